package io.epdctl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.state.DeploymentState;
import io.epdctl.state.HostRecord;
import io.epdctl.state.ProcessRecord;
import io.epdctl.state.StateStore;
import io.epdctl.testing.Cli;
import io.epdctl.testing.SimDeployment;
import io.epdctl.testing.SimNode;
import io.epdctl.testing.SystemTest;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Each kind of failure a command can end with, through the real command line: the exit code and the one
 * message {@link Failure} maps it to, never a stack trace.
 */
class FailureExitCodesTest {
    private static final String TOPOLOGY = "topologies/demo-local.yaml";
    private static final String DEPLOYMENT = "demo-local";

    @TempDir
    Path dir;

    /** What a case leaves open while the command runs (a held lock, a bound port), closed after it. */
    private final List<AutoCloseable> held = new ArrayList<>();

    @AfterEach
    void release() throws Exception {
        for (AutoCloseable resource : held) {
            resource.close();
        }
    }

    /** Prepares files in {@code dir} and returns the command line to run, with {@code DIR} standing for it. */
    interface Setup {
        String[] args(FailureExitCodesTest test) throws Exception;
    }

    record Case(String failure, Setup setup, int exitCode, String... messages) {
        @Override
        public String toString() {
            return failure;
        }
    }

    static Stream<Case> cases() {
        return Stream.of(
                new Case("invalid option value (picocli)",
                        test -> new String[] {"up", "--timeout", "soon", TOPOLOGY},
                        2, "'soon' is not a duration"),
                new Case("topology with errors",
                        test -> new String[] {"validate", test.file("bad.yaml", "name: [").toString()},
                        2, "bad.yaml: 1 error; nothing was done"),
                new Case("missing template",
                        test -> new String[] {"up", "--dry-run", "-t", test.dir.resolve("none").toString(), TOPOLOGY},
                        2, "none/node.sh: no such template"),
                new Case("unreadable template (a directory in its place)",
                        test -> {
                            Files.createDirectories(test.dir.resolve("templates/node.sh"));
                            return new String[] {"render", "-t", test.dir.resolve("templates").toString(), TOPOLOGY};
                        },
                        2, "templates/node.sh: cannot read the template"),
                new Case("state directory is a file: up",
                        test -> new String[] {"up", TOPOLOGY, "--state-dir", test.file("state", "").toString()},
                        1, "epdctl: cannot use the state directory DIR/state: DIR/state/" + DEPLOYMENT + ": Not a directory"),
                new Case("state directory is a file: status",
                        test -> new String[] {"status", "--state-dir", test.file("state", "").toString()},
                        1, "epdctl: cannot use the state directory DIR/state: DIR/state: not a directory"),
                new Case("state directory is a file: status NAME",
                        test -> new String[] {"status", DEPLOYMENT, "--state-dir", test.file("state", "").toString()},
                        1, "epdctl: cannot use the state directory DIR/state: DIR/state: not a directory"),
                new Case("state directory is a file: logs -d NAME",
                        test -> new String[] {"logs", "e0", "-d", DEPLOYMENT, "--state-dir", test.file("state", "").toString()},
                        1, "epdctl: cannot use the state directory DIR/state: DIR/state: not a directory"),
                new Case("deployment's directory is a file: status NAME",
                        test -> {
                            test.file("state/" + DEPLOYMENT, "");
                            return new String[] {"status", DEPLOYMENT, "--state-dir", test.dir.resolve("state").toString()};
                        },
                        1, "epdctl: cannot use the state directory DIR/state: DIR/state/" + DEPLOYMENT + ": not a directory"),
                new Case("state directory is a file: down",
                        test -> new String[] {"down", "--state-dir", test.file("state", "").toString()},
                        1, "epdctl: cannot use the state directory DIR/state: DIR/state: not a directory"),
                new Case("state directory is a file: logs",
                        test -> new String[] {"logs", "e0", "--state-dir", test.file("state", "").toString()},
                        1, "epdctl: cannot use the state directory DIR/state: DIR/state: not a directory"),
                new Case("deployment's directory is a file",
                        test -> {
                            test.file("state/" + DEPLOYMENT, "");
                            return new String[] {"up", TOPOLOGY, "--state-dir", test.dir.resolve("state").toString()};
                        },
                        1, "epdctl: cannot use the state directory DIR/state: DIR/state/" + DEPLOYMENT
                                + ": exists and is not a directory"),
                new Case("state file is not JSON",
                        test -> {
                            test.file("state/" + DEPLOYMENT + "/state.json", "{");
                            return new String[] {"status", DEPLOYMENT, "--state-dir", test.dir.resolve("state").toString()};
                        },
                        1, "epdctl: cannot use the state directory DIR/state: "),
                new Case("deployment locked by another epdctl",
                        test -> {
                            test.held.add(new StateStore(test.dir.resolve("state")).lock(DEPLOYMENT));
                            return new String[] {"down", DEPLOYMENT, "--state-dir", test.dir.resolve("state").toString()};
                        },
                        1, "epdctl: deployment " + DEPLOYMENT + " is being changed by another epdctl (pid "
                                + ProcessHandle.current().pid() + "); wait for it to finish"),
                new Case("host cannot be reached",
                        test -> {
                            int closed = SimNode.freePort();
                            test.recordOnSshHost(closed);
                            return new String[] {"logs", "e0", "--state-dir", test.dir.resolve("state").toString(),
                                "--known-hosts", test.file("known_hosts", "").toString(),
                                "--ssh-config", test.file("ssh_config", "").toString()};
                        },
                        1, "connection refused: no SSH server listens on port"),
                new Case("proxy cannot listen",
                        test -> {
                            ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                            test.held.add(taken);
                            return new String[] {"proxy", "--host", "127.0.0.1", "--port", String.valueOf(taken.getLocalPort()),
                                "--pd-hosts", "127.0.0.1", "--pd-ports", String.valueOf(SimNode.freePort())};
                        },
                        1, "epdctl: proxy: cannot listen on 127.0.0.1:"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void eachFailureHasItsExitCodeAndOneMessage(Case failure) throws Exception {
        Cli.Result result = Cli.run(failure.setup().args(this));

        assertThat(result.exitCode()).as(result.toString()).isEqualTo(failure.exitCode());
        for (String message : failure.messages()) {
            assertThat(result.err()).as(result.toString()).contains(message.replace("DIR", dir.toString()));
        }
        assertThat(result.err()).as(result.toString()).doesNotContain("Exception", "\tat ", "epdctl: internal error");
    }

    @Test
    void anInterruptedCommandExits130() throws Exception {
        recordOnSshHost(SimNode.freePort());
        AtomicReference<Cli.Result> result = new AtomicReference<>();
        Thread command = new Thread(() -> {
            Thread.currentThread().interrupt();
            result.set(Cli.run("status", "--state-dir", dir.resolve("state").toString(),
                    "--known-hosts", dir.resolve("known_hosts").toString()));
        });
        command.start();
        command.join();

        assertThat(result.get().exitCode()).as(result.get().toString()).isEqualTo(ExitCodes.INTERRUPTED);
        assertThat(result.get().err()).as(result.get().toString()).isEqualTo("epdctl: interrupted\n");
    }

    @Test
    @SystemTest
    void aFailedUpSaysUpFailedAndExits1() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write();
                ServerSocket taken = new ServerSocket(deployment.port("p0"), 1, InetAddress.getLoopbackAddress())) {
            Cli.Result up = deployment.up();

            assertThat(up.exitCode()).as(up.toString()).isEqualTo(ExitCodes.FAILURE);
            assertThat(up.err()).as(up.toString()).contains("epdctl: up failed: p0 needs port [" + taken.getLocalPort() + "]",
                    "nothing was started");
            assertThat(deployment.processes()).isEmpty();
        }
    }

    @Test
    void anUnexpectedExceptionIsAnInternalErrorWithAHint() {
        StringWriter err = new StringWriter();
        CommandLine commandLine = new CommandLine(new Broken());
        ErrorHandler handler = new ErrorHandler();
        commandLine.setErr(new PrintWriter(err, true)).setExecutionExceptionHandler(handler).setExitCodeExceptionMapper(handler);

        int exitCode = commandLine.execute();

        assertThat(exitCode).isEqualTo(ExitCodes.INTERNAL_ERROR);
        assertThat(err.toString()).startsWith("epdctl: internal error: java.lang.IllegalStateException: a bug\n")
                .contains("EPDCTL_DEBUG=1");
    }

    /** picocli lets an Error escape its handler; epdctl's command line reports it as any internal error. */
    @Test
    void anErrorIsAnInternalErrorInOneLine() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();

        int exitCode = Main.commandLine(new Overflowing(), new PrintWriter(out, true), new PrintWriter(err, true)).execute();

        assertThat(exitCode).isEqualTo(ExitCodes.INTERNAL_ERROR);
        assertThat(err.toString()).isEqualTo("epdctl: internal error: java.lang.StackOverflowError: too deep\n"
                + "(set EPDCTL_DEBUG=1 for the stack trace, and please report it)\n");
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void everyCommandsHelpListsTheExitCodesAnyCommandMayEndWith() {
        CommandLine root = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
        List<String> commands = new ArrayList<>(List.of(""));
        commands.addAll(root.getSubcommands().keySet());
        for (String command : commands) {
            Cli.Result help = command.isEmpty() ? Cli.run("--help") : Cli.run(command, "--help");
            String codes = help.out().substring(help.out().indexOf("Exit codes:"));
            assertThat(codes).as(command).containsPattern("(?m)^  2 ").containsPattern("(?m)^  70 ")
                    .containsPattern("(?m)^  130 ").containsPattern("(?m)^  143 ");
        }
    }

    @Command(name = "broken")
    static final class Broken implements Runnable {
        @Override
        public void run() {
            throw new IllegalStateException("a bug");
        }
    }

    @Command(name = "overflowing")
    static final class Overflowing implements Runnable {
        @Override
        public void run() {
            throw new StackOverflowError("too deep");
        }
    }

        private Path file(String name, String content) throws Exception {
        Path file = dir.resolve(name);
        Files.createDirectories(file.getParent());
        return Files.writeString(file, content);
    }

    /** A recorded deployment whose one node is on an SSH host where nothing listens on {@code sshPort}. */
    private void recordOnSshHost(int sshPort) throws Exception {
        HostRecord far = new HostRecord("far", "127.0.0.1", false, "nobody", sshPort, null);
        ProcessRecord e0 = new ProcessRecord("e0", "encoder", "far", "127.0.0.1", 23001, List.of(0), List.of(),
                4242, "1", Instant.now(), "/tmp/none", "x", null, null);
        new StateStore(dir.resolve("state")).write(new DeploymentState(DEPLOYMENT, "/t.yaml", "m", "/data/ec",
                Map.of("far", far), List.of(e0), Instant.now()));
        file("known_hosts", "");
    }
}
