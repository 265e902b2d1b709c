package io.epdctl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The launcher as a user runs it, on the jar `mvn package` built (runs after it, as a failsafe test). */
class LauncherIT {
    record Run(int exitCode, String out, String err) {
    }

    private static Run launch(String... args) throws Exception {
        return launch(Map.of(), args);
    }

    private static Run launch(Map<String, String> environment, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("bin/epdctl"));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().putAll(environment);
        Process process = builder.start();
        process.getOutputStream().close();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("bin/epdctl " + String.join(" ", args) + " did not finish");
        }
        return new Run(process.exitValue(), out, err);
    }

    @Test
    void theReadmesMainCommandRendersTheGuideDeployment() throws Exception {
        Run run = launch("render", "topologies/1e1p1d.yaml");

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.out()).startsWith("# ==> e0.sh <==\n#!/usr/bin/env bash\n").contains("# ==> proxy.sh <==");
        assertThat(run.err()).isEmpty();
    }

    @Test
    void reportsTheVersionFromTheJar() throws Exception {
        Run run = launch("--version");

        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).matches("epdctl \\d+\\.\\d+\\.\\d+.*\n");
    }

    @Test
    void commandsStartFromTheArchiveOfEpdctlsClassesMadeForThisJar() throws Exception {
        Path log = Files.createTempFile("epdctl-class-load", ".log");
        try {
            Run run = launch(Map.of("EPDCTL_JAVA_OPTS", "-Xlog:class+load=info:file=" + log), "validate", "topologies/demo-local.yaml");

            assertThat(run.exitCode()).as(run.err()).isZero();
            assertThat(Path.of("target/epdctl.jsa")).exists();
            assertThat(Files.getLastModifiedTime(Path.of("target/epdctl.jsa")))
                    .isGreaterThan(Files.getLastModifiedTime(Path.of("target/epdctl.jar")));
            assertThat(Files.readAllLines(log)).anyMatch(line ->
                    line.contains(" io.epdctl.cli.Main ") && line.contains("source: shared objects file"));
        } finally {
            Files.delete(log);
        }
    }

    /**
     * The launcher of a proxy makes its class archive first when it is missing, with a proxy of its own: that one must not
     * write its control file where the real one runs (epdctl reads it there: plan and up would ask the wrong proxy).
     */
    @Test
    void theProxysArchiveIsMadeWithoutAControlFileWhereTheProxyRuns(@org.junit.jupiter.api.io.TempDir Path run) throws Exception {
        Path archive = Path.of("target/epdctl-proxy.jsa").toAbsolutePath();
        Files.deleteIfExists(archive);
        int port = io.epdctl.testing.FreePorts.pick();
        Path log = run.resolve("proxy.log");
        Process proxy = new ProcessBuilder(Path.of("bin/epdctl").toAbsolutePath().toString(), "proxy", "--host", "127.0.0.1",
                "--port", String.valueOf(port), "--pd-hosts", "127.0.0.1", "--pd-ports", String.valueOf(port))
                .directory(run.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            boolean controlFileWhileTraining = false;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!Files.exists(archive) && proxy.isAlive() && System.nanoTime() < deadline) {
                controlFileWhileTraining |= Files.exists(run.resolve("proxy.control"));
                Thread.sleep(5);
            }
            assertThat(archive).as(Files.readString(log)).exists();
            assertThat(controlFileWhileTraining).as("a control file where the proxy runs while its archive was made").isFalse();
            while (!Files.readString(log).contains("ready on") && proxy.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(run.resolve("proxy.control")).as("the proxy's own, once it is ready").exists();
        } finally {
            proxy.destroy();
            if (!proxy.waitFor(30, TimeUnit.SECONDS)) {
                proxy.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void invalidTopologiesExitWithTwoAndNoStackTrace() throws Exception {
        Run run = launch("validate", "pom.xml");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("pom.xml:").doesNotContain("Exception").doesNotContain("\tat ");
    }
}
