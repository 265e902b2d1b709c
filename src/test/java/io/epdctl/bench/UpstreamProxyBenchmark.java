package io.epdctl.bench;

import io.epdctl.testing.SimCluster;
import io.epdctl.testing.SimNode;
import io.epdctl.testing.UpstreamScripts;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * {@code bin/bench-proxy --upstream SCRIPT}: the built-in proxy and an upstream proxy script (the vLLM-Ascend
 * layerwise EPD proxy) side by side in one run, over the same vllm-sim nodes, driven by the same wrk load; beside
 * them the floor, the same stage sequence sent by the benchmark's own client straight to the nodes. E+PD and
 * E+P+D; text, a repeated picture and distinct pictures; at each number of connections. Prints requests/s,
 * p50/p99, CPU per request (and the kernel's part of it) and RSS of each proxy (from /proc), errors, and the
 * ratios against the goals. Before a layout's cells, each proxy serves each of their loads once (the
 * settling round, whose CPU is reported on its own): the built-in proxy's optimising compiler works for its
 * first half-minute of load, and again as new connections and cut streams take paths it had not seen, and
 * the cells are to measure the proxy as it serves for weeks.
 */
public final class UpstreamProxyBenchmark {
    private static final String USAGE = "usage: bin/bench-proxy --upstream SCRIPT [--duration SECONDS] [--warmup SECONDS]"
            + " [--settle SECONDS, or 0 for none]"
            + " [--connections 16,64] [--python /usr/bin/python3] [--distinct-images N]";
    private static final List<String> PROXY_VARIABLES = List.of("http_proxy", "https_proxy", "ftp_proxy", "all_proxy",
            "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "ALL_PROXY", "no_proxy", "NO_PROXY");
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
    private static final HttpClient PROBE = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .proxy(HttpClient.Builder.NO_PROXY).connectTimeout(Duration.ofSeconds(2)).build();

    /** The goals for the built-in proxy, per cell. */
    static final double MAX_CPU_SHARE = 0.05;
    static final double MIN_RATE_VS_UPSTREAM = 10;
    static final double MIN_RATE_VS_FLOOR = 0.8;
    static final double MAX_P99_OVER_P50 = 3;

    enum Layout {
        E_PD("E+PD"), E_P_D("E+P+D");

        final String label;

        Layout(String label) {
            this.label = label;
        }

        SimCluster start(Path dir, Map<String, String> env) {
            return this == E_PD ? SimCluster.onePd(dir, env) : SimCluster.onePrefillOneDecode(dir, env);
        }

        /** The script's backend arguments, which the built-in proxy takes too, derived from the cluster. */
        List<String> backendArguments(SimCluster cluster) {
            List<String> arguments = new ArrayList<>(List.of("--encoder-hosts", "127.0.0.1", "--encoder-ports",
                    String.valueOf(cluster.node("e0").port())));
            if (this == E_PD) {
                arguments.addAll(List.of("--pd-hosts", "127.0.0.1", "--pd-ports", String.valueOf(cluster.node("pd0").port())));
            } else {
                arguments.addAll(List.of("--prefiller-hosts", "127.0.0.1", "--prefiller-ports",
                        String.valueOf(cluster.node("p0").port()), "--decoder-hosts", "127.0.0.1", "--decoder-ports",
                        String.valueOf(cluster.node("d0").port())));
            }
            return arguments;
        }

        FloorClient floor(SimCluster cluster) throws IOException {
            return this == E_PD
                    ? new FloorClient(Optional.of(cluster.node("e0").baseUrl()), cluster.node("pd0").baseUrl(), Optional.empty())
                    : new FloorClient(Optional.of(cluster.node("e0").baseUrl()), cluster.node("d0").baseUrl(),
                            Optional.of(cluster.node("p0").baseUrl()));
        }
    }

    record Options(Path upstream, Path python, Duration duration, Duration warmup, Duration settle,
            List<Integer> connections, int distinctImages) {
        static Options parse(String[] args) {
            Path upstream = null;
            Path python = Path.of("/usr/bin/python3");
            Duration duration = Duration.ofSeconds(10);
            Duration warmup = Duration.ofSeconds(3);
            Duration settle = Duration.ofSeconds(5);
            List<Integer> connections = List.of(16, 64);
            int distinct = 10_000;
            for (int i = 0; i < args.length; i++) {
                String option = args[i];
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(option + " needs a value");
                }
                String value = args[++i];
                switch (option) {
                    case "--upstream" -> upstream = Path.of(value);
                    case "--python" -> python = Path.of(value);
                    case "--duration" -> duration = seconds(option, value);
                    case "--warmup" -> warmup = seconds(option, value);
                    case "--settle" -> settle = value.equals("0") ? Duration.ZERO : seconds(option, value);
                    case "--connections" -> connections = Arrays.stream(value.split(","))
                            .map(c -> positive(option, c.strip())).toList();
                    case "--distinct-images" -> distinct = positive(option, value);
                    default -> throw new IllegalArgumentException("unknown option " + option);
                }
            }
            if (upstream == null) {
                throw new IllegalArgumentException("--upstream SCRIPT is required");
            }
            return new Options(upstream, python, duration, warmup, settle, connections, distinct);
        }

        /** Whole seconds: wrk's durations have no finer unit. */
        private static Duration seconds(String option, String value) {
            try {
                int seconds = Integer.parseInt(value);
                if (seconds > 0 && seconds <= 3600) {
                    return Duration.ofSeconds(seconds);
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException(option + " must be whole seconds from 1 to 3600, got '" + value + "'");
        }

        private static int positive(String option, String value) {
            try {
                int n = Integer.parseInt(value);
                if (n > 0) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException(option + " takes positive whole numbers, got '" + value + "'");
        }
    }

    /** A proxy's settling round over a layout: the requests it served and the CPU it used, its compiler's too. */
    record Settling(Layout layout, String via, long requests, double cpuMillis) {
        String row() {
            return String.format("| %s | %s | %d | %.1f | %.2f |", layout.label, via, requests, cpuMillis / 1e3,
                    cpuMillis / Math.max(1, requests));
        }
    }

    /** One cell: the same load through each proxy and by the floor's client. */
    record Cell(Layout layout, ChatBodies kind, int connections, Measurement epdctl, Measurement upstream,
            Measurement floor) {
        String label() {
            return layout.label + ", " + kind.label() + ", " + connections + " conn.";
        }

        double rateVsUpstream() {
            return epdctl.perSecond() / upstream.perSecond();
        }

        double rateVsFloor() {
            return epdctl.perSecond() / floor.perSecond();
        }

        double cpuShare() {
            return epdctl.cpuMillisPerRequest() / upstream.cpuMillisPerRequest();
        }

        double p99OverP50() {
            return epdctl.p99Millis() / epdctl.p50Millis();
        }

        /**
         * Requests/s goal: 10x the upstream proxy's where the nodes are not the limit; where 10x would exceed
         * what the nodes do (the floor), 80% of the floor's.
         */
        double rateGoal() {
            return Math.min(MIN_RATE_VS_UPSTREAM * upstream.perSecond(), MIN_RATE_VS_FLOOR * floor.perSecond());
        }

        List<String> missedGoals() {
            List<String> missed = new ArrayList<>();
            if (epdctl.errors() > 0) {
                missed.add("errors");
            }
            if (!(cpuShare() <= MAX_CPU_SHARE)) {
                missed.add("CPU");
            }
            if (!(epdctl.perSecond() >= rateGoal())) {
                missed.add("req/s");
            }
            if (!(p99OverP50() < MAX_P99_OVER_P50)) {
                missed.add("p99");
            }
            return missed;
        }
    }

    public static void main(String[] args) throws Exception {
        // the floor's metaserver (the JDK's HTTP server) answers callbacks without waiting for delayed ACKs
        System.setProperty("sun.net.httpserver.nodelay", "true");
        System.setProperty("sun.net.httpserver.maxIdleConnections", "4096");
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("bench-proxy --upstream: " + e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
            return;
        }
        Optional<String> missing = missingPrerequisite(options);
        if (missing.isPresent()) {
            System.err.println("bench-proxy --upstream: skipped: " + missing.get());
            return;
        }
        if (!WrkLoad.available()) {
            System.err.println("bench-proxy --upstream: wrk is not on the PATH (Debian package wrk; bin/bench-proxy installs it)");
            System.exit(1);
        }
        Path dir = Files.createTempDirectory("epdctl-bench-upstream");
        Path shims = writeShims(dir.resolve("shims"));
        WrkLoad wrk = new WrkLoad(shims.resolve("load.lua"), Runtime.getRuntime().availableProcessors());
        ProcessUsage usage = ProcessUsage.ofThisSystem();
        Map<ChatBodies, List<String>> bodies = new EnumMap<>(ChatBodies.class);
        Map<ChatBodies, Path> bodyFiles = new EnumMap<>(ChatBodies.class);
        for (ChatBodies kind : ChatBodies.values()) {
            bodies.put(kind, kind.bodies(options.distinctImages()));
            bodyFiles.put(kind, WrkLoad.bodiesFile(dir, kind.name().toLowerCase(), bodies.get(kind)));
        }
        System.out.println(header(options));
        System.out.println("work directory (logs): " + dir);

        List<Cell> cells = new ArrayList<>();
        List<Settling> settling = new ArrayList<>();
        for (Layout layout : Layout.values()) {
            Path layoutDir = Files.createDirectories(dir.resolve(layout.name().toLowerCase()));
            try (SimCluster cluster = layout.start(layoutDir, Map.of("VLLM_SIM_STARTUP_DELAY_MS", "0"));
                    FloorClient floor = layout.floor(cluster);
                    Proxy epdctl = Proxy.builtIn(layout.backendArguments(cluster), layoutDir);
                    Proxy upstream = Proxy.upstream(options, shims, layout.backendArguments(cluster), layoutDir)) {
                epdctl.awaitReady();
                upstream.awaitReady();
                if (!options.settle().isZero()) {
                    for (Proxy proxy : List.of(epdctl, upstream)) {
                        settling.add(proxy.settle(layout, wrk, usage, bodyFiles, options));
                    }
                }
                for (ChatBodies kind : ChatBodies.values()) {
                    for (int connections : options.connections()) {
                        Measurement viaEpdctl = epdctl.measure(wrk, usage, bodyFiles.get(kind), connections, options);
                        Measurement viaUpstream = upstream.measure(wrk, usage, bodyFiles.get(kind), connections, options);
                        Measurement direct = floor.run(bodies.get(kind), connections, options.warmup(), options.duration());
                        Cell cell = new Cell(layout, kind, connections, viaEpdctl, viaUpstream, direct);
                        cells.add(cell);
                        System.out.printf("%-40s req/s: epdctl %.0f, upstream %.0f, floor %.0f%n", cell.label(),
                                viaEpdctl.perSecond(), viaUpstream.perSecond(), direct.perSecond());
                    }
                }
            }
        }
        System.out.println();
        if (!settling.isEmpty()) {
            System.out.printf("settling round, before each layout's cells: each load for %d s through each proxy%n%n"
                    + "| layout | via | requests | CPU s | CPU ms/req |%n|---|---|---|---|---|%n", options.settle().toSeconds());
            settling.forEach(round -> System.out.println(round.row()));
            System.out.println();
        }
        System.out.println(measuredTable(cells));
        System.out.println(goalsTable(cells));
    }

    /** Why the run cannot happen here, if it cannot: the script, the interpreter or its packages missing. */
    private static Optional<String> missingPrerequisite(Options options) throws IOException, InterruptedException {
        if (!Files.isRegularFile(options.upstream())) {
            return Optional.of("the upstream proxy script " + options.upstream() + " does not exist (give the path "
                    + "of vllm-ascend's examples/epd_disaggregated/epd_load_balance_proxy_layerwise_server_example.py)");
        }
        return UpstreamScripts.missingModules(options.python(), List.of("fastapi", "httpx", "uvicorn", "PIL"));
    }

    /** The stand-in vllm.logger and the script runner (as the upstream-proxy tests use them), and the wrk script. */
    private static Path writeShims(Path shims) throws IOException {
        UpstreamScripts.writeShims(shims);
        UpstreamScripts.copyResource("load.lua", shims.resolve("load.lua"));
        return shims;
    }

    private static String header(Options options) throws IOException, InterruptedException {
        String versions = run(options.python().toString(), "-c", "import sys, fastapi, httpx, uvicorn, PIL\n"
                + "def has(m):\n    try:\n        __import__(m)\n        return 'yes'\n    except ImportError:\n        return 'no'\n"
                + "print('python %d.%d.%d' % sys.version_info[:3], 'fastapi', fastapi.__version__, 'httpx', "
                + "httpx.__version__, 'uvicorn', uvicorn.__version__, 'uvloop', has('uvloop'), 'httptools', has('httptools'))");
        return String.format("%s UTC; %d cores; load average %s%nupstream: %s (%s)%nload: %s, %d threads, "
                + "%.0f s warm-up then %.0f s measured per cell, %s; streaming chat, %d tokens; nodes: vllm-sim, no token delay",
                ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm")),
                Runtime.getRuntime().availableProcessors(),
                Files.readAllLines(Path.of("/proc/loadavg")).get(0).split(" ", 4)[0],
                options.upstream(), versions.strip(), run("wrk", "--version").lines().findFirst().orElse("wrk").replaceAll(" Copyright.*", "").strip(),
                Runtime.getRuntime().availableProcessors(), options.warmup().toMillis() / 1e3,
                options.duration().toMillis() / 1e3, options.settle().isZero() ? "no settling round"
                        : "after a settling round of " + options.settle().toSeconds() + " s per load", ChatBodies.MAX_TOKENS);
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        process.waitFor();
        return output;
    }

    static String measuredTable(List<Cell> cells) {
        StringBuilder table = new StringBuilder("| cell | via | req/s | p50 ms | p99 ms | CPU ms/req | of it kernel "
                + "| RSS MiB | errors |\n|---|---|---|---|---|---|---|---|---|\n");
        for (Cell cell : cells) {
            row(table, cell.label(), "epdctl", cell.epdctl());
            row(table, "", "upstream", cell.upstream());
            row(table, "", "floor", cell.floor());
        }
        return table.toString();
    }

    private static void row(StringBuilder table, String cell, String via, Measurement m) {
        table.append(String.format("| %s | %s | %.0f | %.1f | %.1f | %s | %s | %s | %d |%n", cell, via, m.perSecond(),
                m.p50Millis(), m.p99Millis(), orDash("%.2f", m.cpuMillisPerRequest()),
                orDash("%.2f", m.kernelMillisPerRequest()), orDash("%.0f", m.rssMiB()), m.errors()));
    }

    private static String orDash(String format, double value) {
        return Double.isNaN(value) ? "-" : String.format(format, value);
    }

    static String goalsTable(List<Cell> cells) {
        StringBuilder table = new StringBuilder(String.format("| cell | req/s epdctl / upstream (goal >= %.0fx) "
                + "| req/s epdctl / floor (goal >= %.0f%% where the nodes limit) | CPU per request epdctl / upstream "
                + "(goal <= %.0f%%) | epdctl p99 / p50 (goal < %.0f) | epdctl errors (goal 0) | goals missed |%n"
                + "|---|---|---|---|---|---|---|%n", MIN_RATE_VS_UPSTREAM, MIN_RATE_VS_FLOOR * 100,
                MAX_CPU_SHARE * 100, MAX_P99_OVER_P50));
        int met = 0;
        for (Cell cell : cells) {
            List<String> missed = cell.missedGoals();
            met += missed.isEmpty() ? 1 : 0;
            table.append(String.format("| %s | %.1fx | %.0f%% | %.1f%% | %.1f | %d | %s |%n", cell.label(),
                    cell.rateVsUpstream(), cell.rateVsFloor() * 100, cell.cpuShare() * 100, cell.p99OverP50(),
                    cell.epdctl().errors(), missed.isEmpty() ? "none" : String.join(", ", missed)));
        }
        table.append(String.format("%nall goals met in %d of %d cells (req/s goal per cell: the lower of 10x the "
                + "upstream proxy's and 80%% of the floor's)%n", met, cells.size()));
        return table.toString();
    }

    /** A proxy process over the cluster's nodes, measured through wrk. */
    private static final class Proxy implements AutoCloseable {
        private final String name;
        private final Process process;
        private final Path log;
        private final String baseUrl;
        private final String healthPath;

        private Proxy(String name, List<String> command, Path log, int port, String healthPath) throws IOException {
            this.name = name;
            this.log = log;
            this.baseUrl = "http://127.0.0.1:" + port;
            this.healthPath = healthPath;
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            // the proxies call the nodes directly, as the node scripts arrange by unsetting these
            PROXY_VARIABLES.forEach(builder.environment()::remove);
            this.process = builder.start();
        }

        /** {@code bin/epdctl proxy}, as a user runs it (with EPDCTL_JAVA_OPTS, if set). */
        static Proxy builtIn(List<String> backends, Path dir) throws IOException {
            int port = SimNode.freePort();
            List<String> command = new ArrayList<>(List.of(Path.of("bin", "epdctl").toAbsolutePath().toString(), "proxy",
                    "--host", "127.0.0.1", "--port", String.valueOf(port)));
            command.addAll(backends);
            return new Proxy("epdctl", command, dir.resolve("proxy-epdctl.log"), port, "/health");
        }

        /** The script, unmodified, with the shims on PYTHONPATH. */
        static Proxy upstream(Options options, Path shims, List<String> backends, Path dir) throws IOException {
            int port = SimNode.freePort();
            List<String> command = new ArrayList<>(List.of(options.python().toString(),
                    shims.resolve("run_upstream.py").toString(), options.upstream().toAbsolutePath().toString(),
                    "--host", "127.0.0.1", "--port", String.valueOf(port)));
            command.addAll(backends);
            return new Proxy("upstream", command, dir.resolve("proxy-upstream.log"), port, "/healthcheck");
        }

        void awaitReady() throws IOException, InterruptedException {
            long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) {
                    throw new IOException("the " + name + " proxy exited (" + process.exitValue() + ") before it was "
                            + "ready; its log " + log + ":\n" + tail());
                }
                try {
                    HttpResponse<Void> health = PROBE.send(HttpRequest.newBuilder(URI.create(baseUrl + healthPath))
                            .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding());
                    if (health.statusCode() == 200) {
                        return;
                    }
                } catch (IOException e) {
                    // not listening yet
                }
                Thread.sleep(50);
            }
            throw new IOException("the " + name + " proxy was not ready within " + READY_TIMEOUT.toSeconds()
                    + " s; its log " + log + ":\n" + tail());
        }

        Measurement measure(WrkLoad wrk, ProcessUsage usage, Path bodies, int connections, Options options)
                throws IOException, InterruptedException {
            wrk.run(completions(), bodies, connections, options.warmup());
            ProcessUsage.CpuTime before = usage.cpu(process.pid());
            Measurement measured = wrk.run(completions(), bodies, connections, options.duration());
            return measured.withUsage(usage.cpu(process.pid()).since(before), ProcessUsage.rssMiB(process.pid()));
        }

        /** The settling round: every load of the layout's cells once, for --settle seconds each. */
        Settling settle(Layout layout, WrkLoad wrk, ProcessUsage usage, Map<ChatBodies, Path> bodies, Options options)
                throws IOException, InterruptedException {
            ProcessUsage.CpuTime before = usage.cpu(process.pid());
            long requests = 0;
            for (ChatBodies kind : ChatBodies.values()) {
                for (int connections : options.connections()) {
                    requests += wrk.run(completions(), bodies.get(kind), connections, options.settle()).requests();
                }
            }
            return new Settling(layout, name, requests, usage.cpu(process.pid()).since(before).totalMillis());
        }

        private String completions() {
            return baseUrl + "/v1/chat/completions";
        }

        private String tail() throws IOException {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }
}
