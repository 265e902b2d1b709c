package io.epdctl.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * One vllm-sim process for tests: {@code java -cp <this JVM's class path> io.epdctl.sim.SimMain serve MODEL
 * --port <free port> FLAGS}, stdout and stderr to one log file. {@link #close()} SIGKILLs it and every
 * descendant it ever had (its engine child survives a SIGKILLed simulator, so descendants are remembered).
 *
 * <pre>{@code
 * try (SimNode node = SimNode.builder(dir).flags("--served-model-name", "m").env("VLLM_SIM_TOKEN_DELAY_MS", "5").start()) {
 *     node.baseUrl(); // http://127.0.0.1:PORT
 * }
 * }</pre>
 */
public final class SimNode implements AutoCloseable {
    public static final String MODEL = "/models/sim-vl";
    /** The bounded heap every simulator gets, as bin/vllm-sim gives it. */
    public static final List<String> JVM_FLAGS =
            List.of("-Xmx64m", "-Xms8m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
                    "-XX:ReservedCodeCacheSize=16m", "-XX:-UsePerfData");
    private static final Set<String> PROXY_VARIABLES = Set.of("http_proxy", "https_proxy", "ftp_proxy", "all_proxy",
            "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "ALL_PROXY");
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
    private static final int BIND_ATTEMPTS = 3;

    private final String name;
    private final Process process;
    private final Path log;
    private final int port;
    private final Set<ProcessHandle> seen = new LinkedHashSet<>();

    private SimNode(String name, Process process, Path log, int port) {
        this.name = name;
        this.process = process;
        this.log = log;
        this.port = port;
    }

    public static Builder builder(Path dir) {
        return new Builder(dir);
    }

    /** Options of one simulator; {@code --port} is chosen by the fixture unless {@link #port(int)} fixes it. */
    public static final class Builder {
        private final Path dir;
        private String name = "sim";
        private String model = MODEL;
        private final List<String> flags = new ArrayList<>();
        private final Map<String, String> env = new LinkedHashMap<>();
        private Integer port;
        private boolean viaLauncher;

        private Builder(Path dir) {
            this.dir = dir;
            env.put("VLLM_HOST_IP", "127.0.0.1"); // tests stay on loopback
        }

        /** Names the log file ({@code <dir>/<name>.log}). */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        public Builder model(String model) {
            this.model = model;
            return this;
        }

        public Builder flags(String... more) {
            flags.addAll(List.of(more));
            return this;
        }

        public Builder flags(List<String> more) {
            flags.addAll(more);
            return this;
        }

        public Builder env(String key, String value) {
            env.put(key, value);
            return this;
        }

        public Builder env(Map<String, String> more) {
            env.putAll(more);
            return this;
        }

        public Builder port(int fixed) {
            this.port = fixed;
            return this;
        }

        /** Runs {@code bin/vllm-sim} (and so the packaged jar) instead of this JVM's class path: for *IT tests. */
        public Builder viaLauncher() {
            this.viaLauncher = true;
            return this;
        }

        /** Starts it and waits for {@code Application startup complete.}; fails with the log if it dies. */
        public SimNode start() {
            for (int attempt = 1; ; attempt++) {
                SimNode node = launch();
                try {
                    node.awaitReady();
                    return node;
                } catch (IllegalStateException e) {
                    node.close();
                    boolean portTaken = node.log().contains("Address already in use: ");
                    if (!portTaken || port != null || attempt == BIND_ATTEMPTS) {
                        throw e;
                    }
                    // another process took the free port between our probe and the bind: try another
                }
            }
        }

        /** Starts it without waiting (for startup failures and the loading phase). */
        public SimNode launch() {
            int chosen = port != null ? port : freePort();
            List<String> command = new ArrayList<>();
            if (viaLauncher) {
                command.add(Path.of("bin", "vllm-sim").toAbsolutePath().toString());
            } else {
                command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
                command.addAll(JVM_FLAGS);
                command.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.epdctl.sim.SimMain"));
            }
            command.addAll(List.of("serve", model, "--port", Integer.toString(chosen)));
            command.addAll(flags);
            try {
                Files.createDirectories(dir);
                Path logFile = dir.resolve(name + ".log");
                ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                        .redirectOutput(logFile.toFile());
                // as the rendered node scripts do: a proxy variable breaks the instances' calls to each other
                builder.environment().keySet().removeAll(PROXY_VARIABLES);
                builder.environment().putAll(env);
                return new SimNode(name, builder.start(), logFile, chosen);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start the simulator " + name, e);
            }
        }
    }

    /** A port nobody listens on right now, below the kernel's ephemeral range (see {@link FreePorts}). */
    public static int freePort() {
        return FreePorts.pick();
    }

    /** Waits for the readiness line; throws with the log when the process exits first or never gets ready. */
    public SimNode awaitReady() {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (!log().contains("Application startup complete.")) {
            remember();
            if (!process.isAlive()) {
                throw new IllegalStateException(name + " exited with " + process.exitValue()
                        + " before it was ready; its log:\n" + log());
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(name + " not ready after " + READY_TIMEOUT + "; its log:\n" + log());
            }
            pause(20);
        }
        remember();
        return this;
    }

    /** Waits for the process to exit and returns its exit code; throws if it is still running at the timeout. */
    public int awaitExit(Duration timeout) {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException(name + " still running after " + timeout + "; its log:\n" + log());
            }
            return process.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public String name() {
        return name;
    }

    public int port() {
        return port;
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    /** One series' value from the node's {@code /metrics} (labels ignored); fails when the series is not there. */
    public double metric(String series) throws IOException, InterruptedException {
        String text = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(baseUrl() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        Matcher matcher = Pattern.compile("(?m)^" + Pattern.quote(series) + "(\\{[^}]*\\})? (\\S+)$").matcher(text);
        if (!matcher.find()) {
            throw new AssertionError(series + " not in the metrics of " + this + ":\n" + text);
        }
        return Double.parseDouble(matcher.group(2));
    }

    public Process process() {
        return process;
    }

    public long pid() {
        return process.pid();
    }

    /** Its engine child and any other descendants seen so far, alive or not. */
    public Set<ProcessHandle> descendantsSeen() {
        remember();
        return Set.copyOf(seen);
    }

    public Path logFile() {
        return log;
    }

    public String log() {
        try {
            return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void remember() {
        if (process.isAlive()) {
            seen.addAll(process.descendants().collect(Collectors.toList()));
        }
    }

    /** SIGKILLs the simulator and every descendant seen, and waits until all are gone. */
    @Override
    public void close() {
        remember();
        List<ProcessHandle> all = new ArrayList<>(seen);
        all.add(process.toHandle());
        // ProcessHandle remembers each process's start time, so a reused pid is never killed by mistake
        all.forEach(ProcessHandle::destroyForcibly);
        for (ProcessHandle handle : all) {
            try {
                handle.onExit().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException("process " + handle.pid() + " of " + name + " did not die", e);
            }
        }
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return name + " (pid " + process.pid() + ", port " + port + ")";
    }
}
