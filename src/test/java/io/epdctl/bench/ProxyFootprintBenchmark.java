package io.epdctl.bench;

import io.epdctl.testing.SimNode;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The built-in proxy's start and memory, as an operator's {@code epdctl proxy} has them, against the
 * command line the launcher ran before (bin/bench-proxy-footprint): time from process start to the first
 * {@code GET /health} 200, and RSS under 16 and 64 concurrent streams, side by side in one run.
 */
public final class ProxyFootprintBenchmark {
    private static final String STREAMING = "{\"model\":\"qwenvl\",\"stream\":true,\"max_tokens\":16,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story about a proxy\"}]}";
    private static final java.util.logging.Logger VERTX_LOG = java.util.logging.Logger.getLogger("io.vertx");

    /**
     * One way to run the proxy: its name, the program and JVM options before {@code proxy ...}, and
     * EPDCTL_JAVA_OPTS (null: unset).
     */
    record Variant(String name, List<String> command, String javaOptions) {
    }

    public static void main(String[] args) throws Exception {
        VERTX_LOG.setLevel(java.util.logging.Level.OFF);
        int starts = intOption(args, "--starts", 5);
        Duration load = Duration.ofSeconds(intOption(args, "--seconds", 15));
        Path root = Path.of("").toAbsolutePath();
        Path jar = root.resolve("target/epdctl.jar");
        Path dir = Files.createTempDirectory("epdctl-bench-footprint");
        List<Variant> variants = new ArrayList<>(List.of(
                // what bin/epdctl ran for the proxy before: the short commands' class archive, JVM defaults
                new Variant("before", List.of("java", "-XX:SharedArchiveFile=" + root.resolve("target/epdctl.jsa"),
                        "-jar", jar.toString()), null),
                new Variant("bin/epdctl", List.of(root.resolve("bin/epdctl").toString()), null)));
        // --also OPTIONS: bin/epdctl with EPDCTL_JAVA_OPTS=OPTIONS as well, to compare a setting
        int also = Arrays.asList(args).indexOf("--also");
        if (also >= 0 && also + 1 < args.length) {
            variants.add(new Variant("+options", List.of(root.resolve("bin/epdctl").toString()), args[also + 1]));
        }
        System.out.printf("machine: %d cores; node: vllm-sim PD, no token delay%n", Runtime.getRuntime().availableProcessors());
        for (Variant variant : variants) {
            System.out.println(variant.name() + ": " + (variant.javaOptions() == null ? ""
                    : "EPDCTL_JAVA_OPTS='" + variant.javaOptions() + "' ") + String.join(" ", variant.command()) + " proxy ...");
        }

        try {
            measure(variants, dir, starts, load, args);
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }

    private static void measure(List<Variant> variants, Path dir, int starts, Duration load, String[] args)
            throws Exception {
        try (SimNode pd = SimNode.builder(dir).name("pd0").flags("--served-model-name", "qwenvl",
                "--enable-request-id-headers", "--max-num-seqs", "1024", "--max-model-len", "32768")
                // as bin/bench-proxy has it (see there), tokens as fast as the node can make them
                .env("JAVA_TOOL_OPTIONS", "-Dsun.net.httpserver.maxIdleConnections=4096 -Dsun.net.httpserver.nodelay=true")
                .env("VLLM_SIM_TOKEN_DELAY_MS", "0")
                .start()) {
            // one start each first: the launcher makes its class archives once per build, not measured
            for (Variant variant : variants) {
                try (RunningProxy proxy = RunningProxy.start(variant, pd.port(), dir)) {
                    proxy.awaitHealthy();
                }
            }

            System.out.printf("%nstart to the first GET /health 200, %d starts each, interleaved%n", starts);
            Map<Variant, List<Double>> startMillis = new java.util.LinkedHashMap<>();
            variants.forEach(variant -> startMillis.put(variant, new ArrayList<>()));
            for (int i = 0; i < starts; i++) {
                for (Variant variant : variants) {
                    try (RunningProxy proxy = RunningProxy.start(variant, pd.port(), dir)) {
                        startMillis.get(variant).add(proxy.awaitHealthy() / 1e6);
                    }
                }
            }
            System.out.printf("%-12s %10s %10s %10s%n", "", "median", "min", "max");
            for (Variant variant : variants) {
                double[] sorted = startMillis.get(variant).stream().mapToDouble(Double::doubleValue).sorted().toArray();
                System.out.printf("%-12s %8.0fms %8.0fms %8.0fms%n", variant.name(), sorted[sorted.length / 2], sorted[0],
                        sorted[sorted.length - 1]);
            }

            System.out.printf("%nRSS under concurrent streams (16 tokens each, %d s per step after 3 s of warm-up)%n",
                    load.toSeconds());
            System.out.printf("%-12s %8s %12s %12s %12s %8s%n", "", "streams", "RSS max MiB", "RSS end MiB", "requests/s",
                    "errors");
            Vertx vertx = Vertx.vertx();
            try {
                HttpClient client = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true),
                        new PoolOptions().setHttp1MaxSize(1024));
                for (Variant variant : variants) {
                    try (RunningProxy proxy = RunningProxy.start(variant, pd.port(), dir)) {
                        proxy.awaitHealthy();
                        Load.run(vertx, client, proxy.port, 16, Duration.ofSeconds(3), proxy.pid);
                        for (int streams : new int[] {16, 64}) {
                            Load result = Load.run(vertx, client, proxy.port, streams, load, proxy.pid);
                            System.out.printf("%-12s %8d %12.1f %12.1f %12.0f %8d%n", variant.name(), streams,
                                    result.rssMax / 1048576.0, result.rssEnd / 1048576.0,
                                    result.requests / (double) load.toSeconds(), result.errors);
                        }
                        if (Arrays.asList(args).contains("--nmt")) {
                            // needs -XX:NativeMemoryTracking=summary in the variant's options
                            System.out.println(jcmd(proxy.pid, "VM.native_memory"));
                        }
                    }
                }
            } finally {
                vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            }
        }
    }

    private static String jcmd(long pid, String command) throws Exception {
        Process process = new ProcessBuilder("jcmd", String.valueOf(pid), command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        process.waitFor(30, TimeUnit.SECONDS);
        return output;
    }

    private static int intOption(String[] args, String name, int fallback) {
        int at = Arrays.asList(args).indexOf(name);
        return at >= 0 && at + 1 < args.length ? Integer.parseInt(args[at + 1]) : fallback;
    }

    /** A proxy process in front of one PD node, on a free port; stopped with SIGTERM on close. */
    private static final class RunningProxy implements AutoCloseable {
        final Process process;
        final long pid;
        final int port;
        final long startNanos;
        final Path log;

        private RunningProxy(Process process, int port, long startNanos, Path log) {
            this.process = process;
            this.pid = process.pid();
            this.port = port;
            this.startNanos = startNanos;
            this.log = log;
        }

        static RunningProxy start(Variant variant, int backendPort, Path dir) throws IOException {
            int port = SimNode.freePort();
            List<String> command = new ArrayList<>(variant.command());
            command.addAll(List.of("proxy", "--host", "127.0.0.1", "--port", String.valueOf(port),
                    "--pd-hosts", "127.0.0.1", "--pd-ports", String.valueOf(backendPort)));
            Path log = dir.resolve("proxy-" + port + ".log");
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            builder.environment().remove("EPDCTL_JAVA_OPTS");
            if (variant.javaOptions() != null) {
                builder.environment().put("EPDCTL_JAVA_OPTS", variant.javaOptions());
            }
            long start = System.nanoTime();
            return new RunningProxy(builder.start(), port, start, log);
        }

        /** Nanoseconds from the process's start to its first {@code GET /health} 200. */
        long awaitHealthy() throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline) {
                if (healthStatus(port) == 200) {
                    return System.nanoTime() - startNanos;
                }
                if (!process.isAlive()) {
                    throw new IllegalStateException("the proxy exited:\n" + Files.readString(log));
                }
                Thread.sleep(2);
            }
            throw new IllegalStateException("the proxy was not healthy within 60 s:\n" + Files.readString(log));
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }

    /** The status of one {@code GET /health} on a new connection; -1 while nothing listens. */
    private static int healthStatus(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 1_000);
            socket.setSoTimeout(5_000);
            socket.getOutputStream().write(("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            byte[] head = in.readNBytes(12); // "HTTP/1.1 200"
            return head.length == 12 ? Integer.parseInt(new String(head, 9, 3, StandardCharsets.US_ASCII)) : -1;
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    /** Closed-loop load: {@code streams} clients, each sending its next request when its last answer has ended. */
    private record Load(long requests, long errors, long rssMax, long rssEnd) {
        static Load run(Vertx vertx, HttpClient client, int port, int streams, Duration length, long pid) throws Exception {
            long until = System.nanoTime() + length.toNanos();
            AtomicLong requests = new AtomicLong();
            AtomicLong errors = new AtomicLong();
            Buffer payload = Buffer.buffer(STREAMING);
            List<Future<Void>> workers = new ArrayList<>();
            for (int i = 0; i < streams; i++) {
                Promise<Void> done = Promise.promise();
                workers.add(done.future());
                vertx.runOnContext(ignored -> loop(client, port, payload, until, requests, errors, done));
            }
            long rssMax = 0;
            while (System.nanoTime() < until) {
                rssMax = Math.max(rssMax, rss(pid));
                Thread.sleep(250);
            }
            Future.all(workers).toCompletionStage().toCompletableFuture().get(1, TimeUnit.MINUTES);
            long rssEnd = rss(pid);
            return new Load(requests.get(), errors.get(), Math.max(rssMax, rssEnd), rssEnd);
        }

        private static void loop(HttpClient client, int port, Buffer payload, long until, AtomicLong requests,
                AtomicLong errors, Promise<Void> done) {
            if (System.nanoTime() >= until) {
                done.complete();
                return;
            }
            client.request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(port)
                            .setURI("/v1/chat/completions").putHeader("Content-Type", "application/json"))
                    .compose(request -> request.send(payload))
                    .compose(response -> response.body().map(body -> response.statusCode() == 200 && body.length() > 0))
                    .onComplete(result -> {
                        (result.succeeded() && result.result() ? requests : errors).incrementAndGet();
                        loop(client, port, payload, until, requests, errors, done);
                    });
        }

        private static long rss(long pid) throws IOException {
            Matcher matcher = Pattern.compile("VmRSS:\\s+(\\d+) kB").matcher(Files.readString(Path.of("/proc/" + pid + "/status")));
            return matcher.find() ? Long.parseLong(matcher.group(1)) * 1024 : -1;
        }
    }
}
