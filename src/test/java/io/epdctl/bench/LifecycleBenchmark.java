package io.epdctl.bench;

import io.epdctl.testing.Cli;
import io.epdctl.testing.SimDeployment;
import io.epdctl.testing.SimNode;
import io.epdctl.testing.SshServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How long {@code epdctl up} takes over the slowest node's own load time, and how long {@code status}
 * takes, measured side by side in one run (bin/bench-lifecycle). Every simulator "loads" for
 * {@value #LOAD_MS} ms. The baseline starts the same number of simulators directly, all at once, and
 * waits for the last one's "Application startup complete.": that is the slowest node's load time on
 * this machine, JVM start included. {@code up} must add its own work (SSH, scripts, readiness polls,
 * the proxy, the test request) to that. Every epdctl command runs as an operator runs it, through
 * bin/epdctl in a new JVM; {@code status} is also timed in this JVM, for epdctl's own share.
 */
public final class LifecycleBenchmark {
    private static final int LOAD_MS = 5000;
    private static final int STATUS_RUNS = 7;

    private final boolean trace;

    private LifecycleBenchmark(boolean trace) {
        this.trace = trace;
    }

    public static void main(String[] args) throws Exception {
        List<String> options = List.of(args);
        if (!List.of("--trace", "--user-login-scripts").containsAll(options)) {
            System.err.println("usage: bin/bench-lifecycle [--trace] [--user-login-scripts]\n"
                    + "  --trace               print what epdctl prints on stderr, after the milliseconds since the command started\n"
                    + "  --user-login-scripts  SSH sessions run this user's ~/.bashrc (by default they get an empty HOME)");
            System.exit(2);
        }
        new LifecycleBenchmark(options.contains("--trace")).run(options.contains("--user-login-scripts"));
    }

    private void run(boolean userLoginScripts) throws Exception {
        Path dir = Files.createTempDirectory("epdctl-bench");
        System.out.printf("%-34s %12s %12s %12s%n", "case", "baseline", "epdctl", "added");
        double local = baseline(dir.resolve("base3"), 3);
        double up = upAndDown(SimDeployment.builder(dir.resolve("local")).startupDelayMs(LOAD_MS).write(), null, "3 nodes");
        print("up 1E1P1D, this machine", local, up);

        List<SshServer> servers = new ArrayList<>();
        try {
            for (int i = 2; i <= 5; i++) {
                servers.add(SshServer.start("127.0.0." + i, userLoginScripts));
            }
            SimDeployment.Builder builder = SimDeployment.builder(dir.resolve("ssh")).startupDelayMs(LOAD_MS).shape(4, 6, 6);
            StringBuilder knownHosts = new StringBuilder();
            List<String> hosts = new ArrayList<>();
            for (int i = 0; i < servers.size(); i++) {
                SshServer server = servers.get(i);
                String name = "h" + (i + 1);
                hosts.add(name);
                builder.host(name, "{address: " + server.address() + ", transport: ssh, user: " + server.user()
                        + ", ssh-port: " + server.port() + ", identity-file: " + server.ed25519Key() + "}");
                knownHosts.append(Files.readString(server.knownHosts()));
            }
            Path knownHostsFile = Files.writeString(dir.resolve("known_hosts"), knownHosts);
            double sixteen = baseline(dir.resolve("base16"), 16);
            double upSixteen = upAndDown(builder.spreadOver(hosts).write(), knownHostsFile, "16 nodes, 4 SSH hosts");
            print("up 16 nodes on 4 SSH hosts", sixteen, upSixteen);
        } finally {
            servers.forEach(SshServer::close);
        }
    }

    /** Seconds until the last of {@code count} simulators started at once is ready. */
    private static double baseline(Path dir, int count) {
        long start = System.nanoTime();
        List<SimNode> nodes = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                nodes.add(SimNode.builder(dir).name("n" + i).flags("--served-model-name", "simvl")
                        .env("VLLM_SIM_STARTUP_DELAY_MS", String.valueOf(LOAD_MS)).launch());
            }
            nodes.forEach(SimNode::awaitReady);
            return (System.nanoTime() - start) / 1e9;
        } finally {
            nodes.forEach(SimNode::close);
        }
    }

    /** Seconds {@code up} took; also times {@code status} on the running deployment, then {@code down}. */
    private double upAndDown(SimDeployment deployment, Path knownHosts, String label) {
        List<String> ssh = knownHosts == null ? List.of() : List.of("--known-hosts", knownHosts.toString());
        try (deployment) {
            List<String> up = new ArrayList<>(List.of("up", deployment.file().toString(), "--timeout", "2m"));
            up.addAll(ssh);
            up.addAll(List.of("--remote-dir", deployment.file().getParent().resolve("remote").toString()));
            double seconds = launch(deployment, up) / 1000;

            List<String> status = new ArrayList<>(List.of("status"));
            status.addAll(ssh);
            double[] runs = new double[STATUS_RUNS];
            for (int i = 0; i < STATUS_RUNS; i++) {
                runs[i] = launch(deployment, status);
            }
            System.out.printf("%-34s %12s %9.0f ms  (median of %d)%n", "status, " + label, "", median(runs), STATUS_RUNS);
            for (int i = 0; i < STATUS_RUNS; i++) {
                long start = System.nanoTime();
                Cli.Result result = deployment.epdctl(status.toArray(String[]::new));
                runs[i] = (System.nanoTime() - start) / 1e6;
                if (result.exitCode() != 0) {
                    throw new IllegalStateException("status failed:\n" + result);
                }
            }
            System.out.printf("%-34s %12s %9.0f ms  (median of %d)%n", "  of which in epdctl's JVM", "", median(runs), STATUS_RUNS);

            List<String> down = new ArrayList<>(List.of("down"));
            down.addAll(ssh);
            System.out.printf("%-34s %12s %9.0f ms%n", "down, " + label, "", launch(deployment, down));
            return seconds;
        }
    }

    /**
     * Runs {@code bin/epdctl} on the deployment as an operator does, a new JVM each time; returns how many
     * milliseconds it took. With --trace, echoes what it prints on stderr, each line after the milliseconds
     * since it started.
     */
    private double launch(SimDeployment deployment, List<String> args) {
        List<String> command = new ArrayList<>(List.of(Path.of("bin", "epdctl").toAbsolutePath().toString()));
        command.addAll(args);
        command.addAll(List.of("--state-dir", deployment.stateDir().toString()));
        long start = System.nanoTime();
        try {
            Process process = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            StringBuilder stderr = new StringBuilder();
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
                for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                    stderr.append(line).append('\n');
                    if (trace) {
                        System.err.printf("%7d ms  %s%n", (System.nanoTime() - start) / 1_000_000, line);
                    }
                }
            }
            int exitCode = process.waitFor();
            double millis = (System.nanoTime() - start) / 1e6;
            if (exitCode != 0) {
                throw new IllegalStateException("bin/epdctl " + String.join(" ", args) + " exited with " + exitCode + ":\n" + stderr);
            }
            return millis;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static void print(String name, double baseline, double epdctl) {
        System.out.printf("%-34s %10.2f s %10.2f s %10.2f s%n", name, baseline, epdctl, epdctl - baseline);
    }
}
