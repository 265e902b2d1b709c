package io.epdctl.bench;

import io.epdctl.testing.Cli;
import io.epdctl.testing.SimDeployment;
import io.epdctl.testing.SimNode;
import io.epdctl.testing.SshServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
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
 * the proxy, the test request) to that.
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
                    + "  --trace               print what epdctl prints, with milliseconds since each command started\n"
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

    /** Seconds {@code up} took; also times {@code status} on the running deployment, then takes it down. */
    private double upAndDown(SimDeployment deployment, Path knownHosts, String label) {
        List<String> ssh = knownHosts == null ? List.of() : List.of("--known-hosts", knownHosts.toString());
        try (deployment) {
            List<String> up = new ArrayList<>(List.of("up", deployment.file().toString(), "--timeout", "2m"));
            up.addAll(ssh);
            up.addAll(List.of("--remote-dir", deployment.file().getParent().resolve("remote").toString()));
            long start = System.nanoTime();
            Cli.Result result = deployment.epdctl(echo(), up.toArray(String[]::new));
            double seconds = (System.nanoTime() - start) / 1e9;
            if (result.exitCode() != 0) {
                throw new IllegalStateException("up failed:\n" + result);
            }
            List<String> status = new ArrayList<>(List.of("status"));
            status.addAll(ssh);
            double[] runs = new double[STATUS_RUNS];
            for (int i = 0; i < STATUS_RUNS; i++) {
                long statusStart = System.nanoTime();
                Cli.Result statusResult = deployment.epdctl(echo(), status.toArray(String[]::new));
                runs[i] = (System.nanoTime() - statusStart) / 1e6;
                if (statusResult.exitCode() != 0) {
                    throw new IllegalStateException("status failed:\n" + statusResult);
                }
            }
            System.out.printf("%-34s %12s %9.0f ms  (median of %d)%n", "status, " + label, "", median(runs), STATUS_RUNS);
            // As an operator runs it: a new JVM through the launcher, every time.
            List<String> launcher = new ArrayList<>(List.of(Path.of("bin", "epdctl").toAbsolutePath().toString()));
            launcher.addAll(status);
            launcher.addAll(List.of("--state-dir", deployment.stateDir().toString()));
            for (int i = 0; i < STATUS_RUNS; i++) {
                long statusStart = System.nanoTime();
                int exitCode = run(launcher);
                runs[i] = (System.nanoTime() - statusStart) / 1e6;
                if (exitCode != 0) {
                    throw new IllegalStateException("bin/epdctl status exited with " + exitCode);
                }
            }
            System.out.printf("%-34s %12s %9.0f ms  (median of %d)%n", "bin/epdctl status, " + label, "", median(runs), STATUS_RUNS);
            List<String> down = new ArrayList<>(List.of("down"));
            down.addAll(ssh);
            long downStart = System.nanoTime();
            Cli.Result downResult = deployment.epdctl(echo(), down.toArray(String[]::new));
            if (downResult.exitCode() != 0) {
                throw new IllegalStateException("down failed:\n" + downResult);
            }
            System.out.printf("%-34s %12s %9.0f ms%n", "down, " + label, "", (System.nanoTime() - downStart) / 1e6);
            return seconds;
        }
    }

    /** With --trace, what epdctl prints on stderr, each line after the milliseconds since the command started. */
    private Writer echo() {
        if (!trace) {
            return Writer.nullWriter();
        }
        long start = System.nanoTime();
        return new Writer() {
            private boolean lineStart = true;

            @Override
            public void write(char[] chars, int offset, int length) {
                for (int i = offset; i < offset + length; i++) {
                    if (lineStart) {
                        System.err.printf("%7d ms  ", (System.nanoTime() - start) / 1_000_000);
                    }
                    System.err.print(chars[i]);
                    lineStart = chars[i] == '\n';
                }
            }

            @Override
            public void flush() {
                System.err.flush();
            }

            @Override
            public void close() {
            }
        };
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    /** Runs a command with its output discarded; returns its exit code. */
    private static int run(List<String> command) {
        try {
            return new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start().waitFor();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static void print(String name, double baseline, double epdctl) {
        System.out.printf("%-34s %10.2f s %10.2f s %10.2f s%n", name, baseline, epdctl, epdctl - baseline);
    }
}
