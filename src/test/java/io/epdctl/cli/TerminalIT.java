package io.epdctl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.shell.Shell;
import io.epdctl.testing.SimDeployment;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/epdctl on a real terminal (a tmux pane, its pseudo-terminal), and in pipes: live lines redrawn in place
 * on the terminal, not one control code where NO_COLOR is set or the output is a pipe.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class TerminalIT {
    private static final Path EPDCTL = Path.of("bin/epdctl").toAbsolutePath();

    @TempDir
    Path dir;

    /** One tmux server of this test's own; the pane's raw output (what epdctl wrote to the terminal) in a file. */
    private final class Pane implements AutoCloseable {
        private final String socket = "epdctl-test-" + UUID.randomUUID();
        private final Path raw = dir.resolve(socket + ".raw");

        /** Runs {@code command} in a 150x40 pane and waits until it ends; returns its exit code. */
        int run(String command) throws Exception {
            Path go = dir.resolve(socket + ".go");
            // The pane waits for the go file, so that pipe-pane is attached before the first byte is written.
            String script = "while [ ! -e " + Shell.quote(go.toString()) + " ]; do sleep 0.05; done; " + command
                    + "; echo \"EXIT=$?\"; sleep 600";
            tmux("new-session", "-d", "-x", "150", "-y", "40", "sh", "-c", script);
            tmux("pipe-pane", "-o", "cat >> " + Shell.quote(raw.toString()));
            Files.createFile(go);
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
            while (System.nanoTime() < deadline) {
                String screen = screen();
                java.util.regex.Matcher exit = java.util.regex.Pattern.compile("(?m)^EXIT=(\\d+)$").matcher(screen);
                if (exit.find()) {
                    return Integer.parseInt(exit.group(1));
                }
                Thread.sleep(100);
            }
            throw new AssertionError("did not finish: " + command + "\n" + screen());
        }

        /** What the pane shows (tmux keeps redrawn lines in its history: that is left out). */
        String screen() throws Exception {
            return tmux("capture-pane", "-p", "-J");
        }

        String raw() throws IOException {
            return Files.exists(raw) ? Files.readString(raw, StandardCharsets.UTF_8) : "";
        }

        private String tmux(String... args) throws Exception {
            List<String> command = new ArrayList<>(List.of("tmux", "-L", socket, "-f", "/dev/null"));
            command.addAll(List.of(args));
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(20, TimeUnit.SECONDS) || process.exitValue() != 0) {
                process.destroyForcibly();
                throw new AssertionError(String.join(" ", command) + ": " + output);
            }
            return output;
        }

        @Override
        public void close() throws Exception {
            new ProcessBuilder("tmux", "-L", socket, "kill-server").redirectErrorStream(true).start().waitFor(20, TimeUnit.SECONDS);
        }
    }

    private static String epdctl(SimDeployment deployment, String environment, String... args) {
        StringBuilder command = new StringBuilder("env TERM=xterm-256color ").append(environment).append(' ')
                .append(Shell.quote(EPDCTL.toString()));
        for (String arg : args) {
            command.append(' ').append(Shell.quote(arg));
        }
        return command.append(" --state-dir ").append(Shell.quote(deployment.stateDir().toString())).toString();
    }

    @Test
    void upShowsOneLiveLinePerProcessOnATerminalAndDownWithNoColorWritesNoControlCode() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).startupDelayMs(2500).write();
                Pane up = new Pane(); Pane down = new Pane()) {
            int upExit = up.run(epdctl(deployment, "", "up", deployment.file().toString(), "--timeout", "2m"));

            String screen = up.screen();
            assertThat(upExit).as(screen).isZero();
            for (String process : List.of("e0", "p0", "d0", "proxy")) {
                // Redrawn in place: one line per process on the screen, at its last state.
                assertThat(screen.lines().filter(line -> line.matches(" " + String.format("%-5s", process) + "  ready +\\d+\\.\\ds  .*")))
                        .as(screen).hasSize(1);
            }
            assertThat(screen).contains(deployment.proxyUrl(), "epdctl: deployment " + deployment.name() + " is ready after");
            String raw = up.raw();
            assertThat(raw).as("moves back over its lines and colours the states").contains("A\033[J", "\033[32mready\033[0m");
            assertThat(raw).as("shown while the nodes load").contains("loading");

            int downExit = down.run(epdctl(deployment, "NO_COLOR=1", "down", "-d", deployment.name()));

            assertThat(downExit).as(down.screen()).isZero();
            assertThat(down.screen()).contains("  e0: stopped by SIGTERM", "is down");
            assertThat(down.raw()).contains("e0: stopped by SIGTERM").doesNotContain("\033");
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void inPipesNoCommandWritesAControlCode() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            List<String> outputs = new ArrayList<>();
            String state = deployment.stateDir().toString();
            outputs.add(piped(0, "up", deployment.file().toString(), "--timeout", "2m", "--state-dir", state));
            outputs.add(piped(0, "status", "--state-dir", state));
            outputs.add(piped(0, "status", "-o", "wide", "--state-dir", state));
            outputs.add(piped(0, "ls", "--state-dir", state));
            outputs.add(piped(0, "logs", "--state-dir", state));
            String watch = pipedFor(2500, "status", "--watch", "1s", "--state-dir", state);
            outputs.add(watch);
            outputs.add(piped(0, "down", "--state-dir", state));

            assertThat(watch).as("a block per refresh, headed by the time")
                    .containsPattern("(?m)^--- \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\ndeployment " + deployment.name());
            for (String output : outputs) {
                assertThat(output).as(output).isNotBlank().doesNotContain("\033");
            }
        }
    }

    /** stdout and stderr of bin/epdctl ARGS, both pipes, with a terminal's TERM; the exit code asserted. */
    private static String piped(int exitCode, String... args) throws Exception {
        Process process = start(args);
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(3, TimeUnit.MINUTES)).isTrue();
        assertThat(process.exitValue()).as(out).isEqualTo(exitCode);
        return out;
    }

    /** The same, for a command that runs until stopped (status --watch): stopped after {@code millis}. */
    private static String pipedFor(long millis, String... args) throws Exception {
        Process process = start(args);
        java.util.concurrent.CompletableFuture<String> out = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        Thread.sleep(millis);
        // SIGTERM through the handle: Process.destroy() would also close our end of the pipe, and a read of what
        // the command still writes while it stops would fail with "Stream closed" (failed once in CI).
        process.toHandle().destroy();
        assertThat(process.waitFor(1, TimeUnit.MINUTES)).isTrue();
        return out.get(1, TimeUnit.MINUTES);
    }

    private static Process start(String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(EPDCTL.toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("TERM", "xterm-256color");
        builder.environment().remove("NO_COLOR");
        Process process = builder.start();
        process.getOutputStream().close();
        return process;
    }
}
