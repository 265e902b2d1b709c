package io.epdctl.transport;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecuteResultHandler;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.ExecuteException;
import org.apache.commons.exec.ExecuteWatchdog;
import org.apache.commons.exec.PumpStreamHandler;

/** Runs commands on this machine, for hosts that are loopback or marked {@code transport: local}. */
public final class LocalTransport implements Transport {
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
        ExecuteWatchdog watchdog = ExecuteWatchdog.builder().setTimeout(timeout).get();
        DefaultExecutor executor = executor(new PumpStreamHandler(out, err, new ByteArrayInputStream(stdin)), watchdog);
        int exitCode;
        try {
            exitCode = executor.execute(shell(command));
        } catch (ExecuteException e) {
            exitCode = e.getExitValue();
        } catch (IOException e) {
            throw new TransportException(host + ": cannot run /bin/sh: " + e.getMessage(), e);
        }
        if (watchdog.killedProcess()) {
            throw new TransportException(host + ": command did not finish within " + timeout.toSeconds() + " s");
        }
        return new CommandResult(exitCode, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Override
    public int stream(String command, OutputStream out, OutputStream err) throws TransportException, InterruptedException {
        ExecuteWatchdog watchdog = ExecuteWatchdog.builder().setTimeout(ExecuteWatchdog.INFINITE_TIMEOUT_DURATION).get();
        DefaultExecutor executor = executor(new PumpStreamHandler(out, err), watchdog);
        DefaultExecuteResultHandler result = new DefaultExecuteResultHandler();
        try {
            executor.execute(shell(command), result);
            result.waitFor();
        } catch (IOException e) {
            throw new TransportException(host + ": cannot run /bin/sh: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            watchdog.destroyProcess();
            throw e;
        }
        return result.getExitValue();
    }

    @Override
    public void close() {
        // Nothing is held between commands.
    }

    private static DefaultExecutor executor(PumpStreamHandler streams, ExecuteWatchdog watchdog) {
        DefaultExecutor executor = DefaultExecutor.builder().get();
        executor.setStreamHandler(streams);
        executor.setWatchdog(watchdog);
        executor.setExitValues(null); // every exit code is a result for the caller to judge
        return executor;
    }

    private static CommandLine shell(String command) {
        // handleQuoting=false: the command goes to sh exactly as written.
        return new CommandLine("/bin/sh").addArgument("-c").addArgument(command, false);
    }
}
