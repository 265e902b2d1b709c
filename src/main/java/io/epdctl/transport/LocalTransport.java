package io.epdctl.transport;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecuteResultHandler;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.Executor;
import org.apache.commons.exec.PumpStreamHandler;

/**
 * Runs commands on this machine, for hosts that are loopback or marked {@code transport: local}. Each
 * command runs in a process group of its own, so that an abandoned command is stopped with everything
 * it started, as over SSH; commands it started detached ({@code setsid}) live on.
 */
public final class LocalTransport implements Transport {
    private static final Duration LAUNCH_WAIT = Duration.ofSeconds(10);
    private final String host;

    public LocalTransport(String host) {
        this.host = host;
    }

    @Override
    public String host() {
        return host;
    }

    @Override
    public CommandResult run(String command, byte[] stdin, Duration timeout) throws TransportException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Started started = start(command, out, err, new ByteArrayInputStream(stdin));
        try {
            started.result.waitFor(timeout);
            if (!started.result.hasResult()) {
                started.kill();
                throw new TransportException(host + ": command did not finish within " + timeout.toSeconds() + " s; stopped it");
            }
        } catch (InterruptedException e) {
            started.kill();
            Thread.currentThread().interrupt();
            throw new TransportException(host + ": interrupted while waiting for a command; stopped it", e);
        } finally {
            started.endOutput();
        }
        return new CommandResult(started.exitCode(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Override
    public int stream(String command, OutputStream out, OutputStream err) throws TransportException, InterruptedException {
        Started started = start(command, out, err, null);
        try {
            started.result.waitFor();
        } catch (InterruptedException e) {
            started.kill();
            throw e;
        } finally {
            started.endOutput();
        }
        return started.exitCode();
    }

    /** The host is this machine: its loopback is ours, nothing to forward. */
    @Override
    public Tunnel tunnel(int port) {
        return new Tunnel() {
            @Override
            public int localPort() {
                return port;
            }

            @Override
            public void close() {
                // nothing was opened
            }
        };
    }

    @Override
    public void close() {
        // Nothing is held between commands.
    }

    private Started start(String command, OutputStream out, OutputStream err, InputStream stdin) throws TransportException {
        // The same frame as over SSH, so that both transports hand over output alike: nothing prints before
        // this shell, but the streams go through the one filter all the same.
        CommandFrame frame = new CommandFrame();
        CommandFrame.Filter stdout = frame.filter(out, null);
        CommandFrame.Filter stderr = frame.filter(err, null);
        GroupLeader executor = new GroupLeader();
        executor.setStreamHandler(new PumpStreamHandler(stdout, stderr, stdin));
        executor.setExitValues(null); // every exit code is a result for the caller to judge
        DefaultExecuteResultHandler result = new DefaultExecuteResultHandler();
        try {
            // setsid: the shell leads a new session and process group, whose id is its pid.
            // handleQuoting=false: the command goes to sh exactly as written.
            executor.execute(new CommandLine("setsid").addArgument("/bin/sh").addArgument("-c").addArgument(frame.wrap(command), false),
                    result);
        } catch (IOException e) {
            throw new TransportException(host + ": cannot run /bin/sh: " + e.getMessage(), e);
        }
        return new Started(executor, result, stdout, stderr);
    }

    private final class Started {
        private final GroupLeader executor;
        private final DefaultExecuteResultHandler result;
        private final CommandFrame.Filter stdout;
        private final CommandFrame.Filter stderr;

        Started(GroupLeader executor, DefaultExecuteResultHandler result, CommandFrame.Filter stdout, CommandFrame.Filter stderr) {
            this.executor = executor;
            this.result = result;
            this.stdout = stdout;
            this.stderr = stderr;
        }

        /** The pumps leave the streams open; their end is the filters' cue (see CommandFrame.Filter#close). */
        void endOutput() {
            try {
                stdout.close();
                stderr.close();
            } catch (IOException e) {
                // the caller's streams failed; what they got is what there is
            }
        }

        int exitCode() throws TransportException {
            if (result.getExitValue() == Executor.INVALID_EXITVALUE && result.getException() != null) {
                throw new TransportException(host + ": cannot run /bin/sh: " + result.getException().getMessage(), result.getException());
            }
            return result.getExitValue();
        }

        /** SIGKILLs the command's process group, then waits (bounded) for the executor to notice. */
        void kill() {
            CommandFrame.killThroughInterrupts(this::killGroup);
        }

        private void killGroup() {
            Process shell;
            try {
                // The executor launches on its own thread: the command may be running (and may even have
                // written output) before the launch call has returned there. Wait for it, or nothing is killed.
                shell = executor.launched.get(LAUNCH_WAIT.toSeconds(), TimeUnit.SECONDS);
            } catch (ExecutionException | TimeoutException e) {
                return; // never started (the error reaches the caller through the result handler)
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            try {
                Process kill = new ProcessBuilder("/bin/sh", "-c", CommandFrame.killGroup(shell.pid()))
                        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                kill.waitFor(10, TimeUnit.SECONDS);
            } catch (IOException e) {
                // Cannot start kill(1): stop the shell at least.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            shell.destroyForcibly();
            try {
                result.waitFor(Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Hands over the process it launched (or the failure to launch it), for killing its group. Commons Exec
     * launches through the {@code Path} variant since 1.5 (the {@code File} one is no longer called).
     */
    private static final class GroupLeader extends DefaultExecutor {
        private final CompletableFuture<Process> launched = new CompletableFuture<>();

        @Override
        protected Process launch(CommandLine command, Map<String, String> env, Path workingDirectory) throws IOException {
            try {
                Process process = super.launch(command, env, workingDirectory);
                launched.complete(process);
                return process;
            } catch (IOException | RuntimeException e) {
                launched.completeExceptionally(e);
                throw e;
            }
        }
    }
}
