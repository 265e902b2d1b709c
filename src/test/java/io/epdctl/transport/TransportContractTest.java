package io.epdctl.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.epdctl.shell.Shell;
import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SshServer;
import io.epdctl.testing.SystemTest;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What every transport does, against this machine directly, through a real sshd, and through a real sshd
 * whose login shell prints before and after every command ("chatty": its ~/.bashrc prints the pid of a live
 * process, digits without a newline and noise on stderr, and sets an EXIT trap that prints that pid again).
 */
@SystemTest
class TransportContractTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    /** For commands meant to time out: long enough for them to have started (written their pid) on a slow machine. */
    private static final Duration SHORT_TIMEOUT = Duration.ofSeconds(3);
    private static SshServer server;
    private static SshServer chatty;
    /** A process in a group of its own whose pid the chatty login shell prints: taken for the command's, it would be killed. */
    private static long decoy;

    @TempDir
    Path dir;
    private final List<Transport> opened = new ArrayList<>();

    @BeforeAll
    static void startSshd() throws Exception {
        server = SshServer.start("127.0.0.2");
        chatty = SshServer.start("127.0.0.4", false);
        // Detached from this JVM (its shell exits), so that the after-each check of what tests started does not see it.
        Process starter = new ProcessBuilder("/bin/sh", "-c", "setsid sleep 600 < /dev/null > /dev/null 2>&1 & echo $!")
                .redirectErrorStream(true).start();
        decoy = Long.parseLong(new String(starter.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip());
        starter.waitFor();
        Files.createDirectories(chatty.home());
        Files.writeString(chatty.home().resolve(".bashrc"), String.join("\n",
                "echo " + decoy,
                "echo 'noise from .bashrc' >&2",
                "printf 4711",
                "export EPDCTL_TEST_BASHRC=ran",
                "trap 'echo " + decoy + "; echo bye >&2' EXIT",
                ""));
    }

    @AfterAll
    static void stopSshd() {
        ProcessHandle.of(decoy).ifPresent(ProcessHandle::destroyForcibly);
        server.close();
        chatty.close();
    }

    private Transport open(String kind) throws TransportException {
        Transport transport = switch (kind) {
            case "local" -> new LocalTransport("here");
            case "ssh" -> SshTransport.connect(server.host("there", server.ed25519Key()), server.options());
            case "ssh-chatty-login" -> SshTransport.connect(chatty.host("chatty", chatty.ed25519Key()), chatty.options());
            default -> throw new IllegalArgumentException(kind);
        };
        opened.add(transport);
        return transport;
    }

    @AfterEach
    void leavesNothingRunning() throws Exception {
        opened.forEach(Transport::close);
        for (SshServer sshd : List.of(server, chatty)) {
            sshd.awaitNoSessions();
            assertThat(ProcessTable.killSurvivors(sshd::sessionProcesses)).isEmpty();
        }
        assertThat(ProcessTable.killSurvivors(ProcessTable::startedByTests)).isEmpty();
        assertThat(ProcessTable.isLive(decoy)).as("the process whose pid the chatty login shell prints is alive").isTrue();
    }

    @Test
    void theChattyLoginScriptRunsAndLeavesTheCommandsOutputAlone() throws Exception {
        Transport transport = open("ssh-chatty-login");

        assertThat(transport.run("echo $EPDCTL_TEST_BASHRC", TIMEOUT)).isEqualTo(new CommandResult(0, "ran\n", ""));
        assertThat(transport.run("printf no-newline; exit 5", TIMEOUT)).isEqualTo(new CommandResult(5, "no-newline", ""));
        assertThat(transport.run("true", TIMEOUT)).isEqualTo(new CommandResult(0, "", ""));
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh", "ssh-chatty-login"})
    void aTunnelReachesAPortOnTheHostsLoopbackUntilClosed(String kind) throws Exception {
        Transport transport = open(kind);
        try (java.net.ServerSocket listener = new java.net.ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"))) {
            Tunnel tunnel = transport.tunnel(listener.getLocalPort());
            try (tunnel; java.net.Socket here = new java.net.Socket("127.0.0.1", tunnel.localPort());
                    java.net.Socket there = listener.accept()) {
                here.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
                here.getOutputStream().flush();
                assertThat(new String(there.getInputStream().readNBytes(5), StandardCharsets.US_ASCII)).isEqualTo("ping\n");
                there.getOutputStream().write("pong\n".getBytes(StandardCharsets.US_ASCII));
                there.getOutputStream().flush();
                assertThat(new String(here.getInputStream().readNBytes(5), StandardCharsets.US_ASCII)).isEqualTo("pong\n");
            }
            if (!kind.equals("local")) {
                // the forward is gone: nothing listens on its port here any more (JSch closes it on its own thread)
                long deadline = System.nanoTime() + TIMEOUT.toNanos();
                boolean refused = false;
                while (!refused && System.nanoTime() < deadline) {
                    try (java.net.Socket ignored = new java.net.Socket("127.0.0.1", tunnel.localPort())) {
                        Thread.sleep(20);
                    } catch (java.net.ConnectException e) {
                        refused = true;
                    }
                }
                assertThat(refused).as("the forwarded port still takes connections after close").isTrue();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh", "ssh-chatty-login"})
    void runReturnsOutputErrorsAndExitCode(String kind) throws Exception {
        CommandResult result = open(kind).run("echo out; echo err >&2; exit 3", TIMEOUT);

        assertThat(result).isEqualTo(new CommandResult(3, "out\n", "err\n"));
        assertThat(result.succeeded()).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh", "ssh-chatty-login"})
    void runFeedsStdinAndEndsIt(String kind) throws Exception {
        byte[] stdin = "hello\nworld\n".getBytes(StandardCharsets.UTF_8);

        CommandResult result = open(kind).run("tr a-z A-Z", stdin, TIMEOUT);

        assertThat(result).isEqualTo(new CommandResult(0, "HELLO\nWORLD\n", ""));
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh", "ssh-chatty-login"})
    void awkwardValuesArriveUnchangedThroughShellQuoting(String kind) throws Exception {
        Transport transport = open(kind);
        List<String> values = List.of("two words", "it's", "\"double\"", "$HOME and ${PATH}", "`id` $(id)",
                "back\\slash", "line one\nline two", "*.txt ?", "; rm -rf /tmp/nothing #", "ünïcødé", "");

        for (String value : values) {
            CommandResult result = transport.run(Shell.command(List.of("printf", "%s", value)), TIMEOUT);
            assertThat(result.stdout()).as("printf of %s", value).isEqualTo(value);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh", "ssh-chatty-login"})
    void streamCopiesOutputAsItComesAndReturnsTheExitCode(String kind) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();

        int exitCode = open(kind).stream("echo a; echo b >&2; echo c; exit 4", out, err);

        assertThat(exitCode).isEqualTo(4);
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("a\nc\n");
        assertThat(err.toString(StandardCharsets.UTF_8)).isEqualTo("b\n");
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh", "ssh-chatty-login"})
    void runPastItsTimeoutStopsTheCommandAndThrows(String kind) throws Exception {
        Path pidFile = dir.resolve("pid");
        Transport transport = open(kind);

        assertThatThrownBy(() -> transport.run("echo $$ > " + Shell.quote(pidFile.toString()) + "; exec sleep 600", SHORT_TIMEOUT))
                .isInstanceOf(TransportException.class)
                .hasMessageStartingWith(transport.host() + ": ")
                .hasMessageContaining("did not finish within " + SHORT_TIMEOUT.toSeconds() + " s");

        assertThat(ProcessTable.awaitGone(ProcessTable.pidFromFile(pidFile))).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh", "ssh-chatty-login"})
    void aTimeoutStopsEverythingTheCommandStartedInItsProcessGroup(String kind) throws Exception {
        Path pidFile = dir.resolve("child");
        Transport transport = open(kind);

        assertThatThrownBy(() -> transport.run("sleep 600 & echo $! > " + Shell.quote(pidFile.toString()) + "; wait", SHORT_TIMEOUT))
                .isInstanceOf(TransportException.class);

        assertThat(ProcessTable.awaitGone(ProcessTable.pidFromFile(pidFile))).isEmpty();
        assertThat(transport.run("echo still usable", TIMEOUT).stdout()).isEqualTo("still usable\n");
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh", "ssh-chatty-login"})
    void interruptingStreamStopsTheCommand(String kind) throws Exception {
        Path pidFile = dir.resolve("pid");
        Transport transport = open(kind);
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Thread follower = new Thread(() -> {
            try {
                transport.stream("echo $$ > " + Shell.quote(pidFile.toString()) + "; sleep 600",
                        OutputStream.nullOutputStream(), OutputStream.nullOutputStream());
                outcome.set(new AssertionError("stream returned"));
            } catch (Throwable t) {
                outcome.set(t);
            }
        });
        follower.start();
        long command = ProcessTable.pidFromFile(pidFile);
        assertThat(ProcessHandle.of(command)).isPresent();

        interruptUntilItEnds(follower);

        assertThat(outcome.get()).isInstanceOf(InterruptedException.class);
        assertThat(ProcessTable.awaitGone(command)).isEmpty();
    }

    /** The interrupt is the exception's cause, for the command line to exit 130 (cli/Failure). */
    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh", "ssh-chatty-login"})
    void interruptingRunStopsTheCommandAndSaysItWasInterrupted(String kind) throws Exception {
        Path pidFile = dir.resolve("pid");
        Transport transport = open(kind);
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Thread runner = new Thread(() -> {
            try {
                outcome.set(new AssertionError("run returned " + transport.run(
                        "echo $$ > " + Shell.quote(pidFile.toString()) + "; sleep 600", TIMEOUT)));
            } catch (Throwable t) {
                outcome.set(t);
            }
        });
        runner.start();
        long command = ProcessTable.pidFromFile(pidFile);

        interruptUntilItEnds(runner);

        assertThat(outcome.get()).isInstanceOf(TransportException.class).hasCauseInstanceOf(InterruptedException.class)
                .hasMessageContaining("interrupted while waiting for a command; stopped it");
        assertThat(ProcessTable.awaitGone(command)).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh", "ssh-chatty-login"})
    void runOnAnInterruptedThreadSaysItWasInterrupted(String kind) throws Exception {
        Transport transport = open(kind);
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Thread runner = new Thread(() -> {
            Thread.currentThread().interrupt();
            try {
                outcome.set(new AssertionError("run returned " + transport.run("sleep 600", TIMEOUT)));
            } catch (Throwable t) {
                outcome.set(t);
            }
        });
        runner.start();
        runner.join();

        assertThat(outcome.get()).isInstanceOf(TransportException.class).hasCauseInstanceOf(InterruptedException.class)
                .hasMessageContaining("interrupted while waiting");
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh", "ssh-chatty-login"})
    void interruptingStreamAsItStartsLeavesNothingRunning(String kind) throws Exception {
        Transport transport = open(kind);
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Thread follower = new Thread(() -> {
            try {
                outcome.set(new AssertionError("stream returned " + transport.stream("sleep 600",
                        OutputStream.nullOutputStream(), OutputStream.nullOutputStream())));
            } catch (Throwable t) {
                outcome.set(t);
            }
        });

        follower.start();
        follower.interrupt(); // most likely while the command is being launched: the after-each check finds it if it lives on
        follower.join();

        // JSch swallows an interrupt that comes while it opens the channel and says "channel is not opened.":
        // then the command was never sent.
        assertThat(outcome.get()).isInstanceOfAny(InterruptedException.class, TransportException.class);
    }

    /**
     * The command runs (it wrote its pid) before JSch's channel.connect has returned, and JSch swallows an
     * interrupt that comes in that window; the next one finds the thread waiting for the command's end.
     */
    private static void interruptUntilItEnds(Thread thread) throws InterruptedException {
        for (int i = 0; i < 100 && thread.isAlive(); i++) {
            thread.interrupt();
            thread.join(200);
        }
        assertThat(thread.isAlive()).as("still running after 100 interrupts").isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh", "ssh-chatty-login"})
    void aCommandStartedDetachedOutlivesTheTransport(String kind) throws Exception {
        Path pidFile = dir.resolve("pid");
        Transport transport = open(kind);
        String detached = "echo $$ > " + Shell.quote(pidFile.toString()) + "; exec sleep 600";
        CommandResult started = transport.run("setsid sh -c " + Shell.quote(detached) + " > "
                + Shell.quote(dir.resolve("log").toString()) + " 2>&1 < /dev/null &", TIMEOUT);
        ProcessHandle node = ProcessHandle.of(ProcessTable.pidFromFile(pidFile)).orElseThrow();
        try {
            assertThat(started.exitCode()).isZero();

            transport.close();
            (kind.equals("ssh-chatty-login") ? chatty : server).awaitNoSessions(); // sshd has ended the connection's processes

            assertThat(node.isAlive()).isTrue();
        } finally {
            node.destroyForcibly();
        }
    }
}
