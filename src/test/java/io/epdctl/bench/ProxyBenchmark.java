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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The built-in proxy against a vllm-sim PD node, side by side with calling the node directly, in one
 * run (bin/bench-proxy): streaming chat requests at 1, 16 and 256 concurrent, short non-streaming
 * requests, and the proxy's memory over a sustained load. The proxy runs as its own process from the
 * jar, as {@code epdctl proxy}; the node generates without delay, so what is measured is HTTP work.
 */
public final class ProxyBenchmark {
    private static final String STREAMING = "{\"model\":\"qwenvl\",\"stream\":true,\"max_tokens\":16,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story about a proxy\"}]}";
    private static final String SHORT = "{\"model\":\"qwenvl\",\"stream\":false,\"max_tokens\":1,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    /** Connection resets under overload are counted as errors; Vert.x need not log each one. */
    private static final java.util.logging.Logger VERTX_LOG = java.util.logging.Logger.getLogger("io.vertx");
    private static final Duration WARMUP = Duration.ofSeconds(3);
    private static final Duration MEASURE = Duration.ofSeconds(10);

    record Result(long requests, long errors, double seconds, long[] sortedLatencyNanos) {
        double perSecond() {
            return requests / seconds;
        }

        double percentileMillis(double p) {
            if (sortedLatencyNanos.length == 0) {
                return Double.NaN;
            }
            int index = (int) Math.min(sortedLatencyNanos.length - 1, Math.ceil(p / 100 * sortedLatencyNanos.length) - 1);
            return sortedLatencyNanos[Math.max(index, 0)] / 1e6;
        }
    }

    public static void main(String[] args) throws Exception {
        VERTX_LOG.setLevel(java.util.logging.Level.OFF);
        boolean longRun = Arrays.asList(args).contains("--long");
        Duration memoryRun = longRun ? Duration.ofMinutes(10) : Duration.ofSeconds(60);
        Path dir = Files.createTempDirectory("epdctl-bench-proxy");
        Path jar = Path.of("target", "epdctl.jar").toAbsolutePath();
        // --token-delay-ms N paces the node's tokens as a real decoder would (tens of ms on NPUs); 0 (default)
        // makes the node as fast as it can be, which saturates a small machine and measures CPU queueing too.
        int at = Arrays.asList(args).indexOf("--token-delay-ms");
        String tokenDelay = at >= 0 && at + 1 < args.length ? args[at + 1] : "0";
        System.out.printf("machine: %d cores; proxy: %s proxy (its own JVM, default heap); node: vllm-sim, token delay %s ms%n",
                Runtime.getRuntime().availableProcessors(), jar.getFileName(), tokenDelay);

        try (SimNode pd = SimNode.builder(dir).name("pd0").flags("--served-model-name", "qwenvl",
                "--enable-request-id-headers", "--max-num-seqs", "1024", "--max-model-len", "32768")
                // the JDK's HTTP server closes idle connections beyond 200, under the clients of 256 streams,
                // and without TCP_NODELAY its small writes wait for delayed ACKs (40 ms stalls) that would
                // drown the proxy's share of the latency
                .env("JAVA_TOOL_OPTIONS", "-Dsun.net.httpserver.maxIdleConnections=4096 -Dsun.net.httpserver.nodelay=true")
                .env("VLLM_SIM_TOKEN_DELAY_MS", tokenDelay)
                .start()) {
            int proxyPort = SimNode.freePort();
            Path proxyLog = dir.resolve("proxy.log");
            List<String> proxyCommand = new ArrayList<>(List.of("java", "-jar", jar.toString(), "proxy", "--host", "127.0.0.1",
                    "--port", String.valueOf(proxyPort), "--pd-hosts", "127.0.0.1", "--pd-ports", String.valueOf(pd.port())));
            proxyCommand.addAll(proxyOptions(args));
            System.out.println("proxy: " + String.join(" ", proxyCommand.subList(3, proxyCommand.size())));
            Process proxy = new ProcessBuilder(proxyCommand).redirectErrorStream(true).redirectOutput(proxyLog.toFile()).start();
            System.out.println("proxy log: " + proxyLog + ", node log: " + pd.logFile());
            Vertx vertx = Vertx.vertx();
            try {
                awaitReady(proxy, proxyLog);
                HttpClient client = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true),
                        new PoolOptions().setHttp1MaxSize(1024));

                System.out.printf("%n%-30s %10s %10s %10s %10s %10s %10s%n", "streaming chat, 16 tokens",
                        "direct p50", "proxy p50", "added p50", "direct p99", "proxy p99", "added p99");
                List<String> throughput = new ArrayList<>();
                for (int concurrency : streams(args)) {
                    Result direct = run(vertx, client, pd.port(), STREAMING, concurrency, WARMUP, MEASURE);
                    Result proxied = run(vertx, client, proxyPort, STREAMING, concurrency, WARMUP, MEASURE);
                    System.out.printf("%-30s %8.2fms %8.2fms %8.2fms %8.2fms %8.2fms %8.2fms%n",
                            concurrency + " concurrent", direct.percentileMillis(50), proxied.percentileMillis(50),
                            proxied.percentileMillis(50) - direct.percentileMillis(50), direct.percentileMillis(99),
                            proxied.percentileMillis(99), proxied.percentileMillis(99) - direct.percentileMillis(99));
                    throughput.add(String.format("%-30s %10.0f %10.0f %10d", "streaming, " + concurrency + " concurrent",
                            direct.perSecond(), proxied.perSecond(), direct.errors() + proxied.errors()));
                }
                for (int concurrency : new int[] {16, 256}) {
                    Result direct = run(vertx, client, pd.port(), SHORT, concurrency, WARMUP, MEASURE);
                    Result proxied = run(vertx, client, proxyPort, SHORT, concurrency, WARMUP, MEASURE);
                    throughput.add(String.format("%-30s %10.0f %10.0f %10d", "short, " + concurrency + " concurrent",
                            direct.perSecond(), proxied.perSecond(), direct.errors() + proxied.errors()));
                }
                System.out.printf("%n%-30s %10s %10s %10s%n", "requests per second", "direct", "proxy", "errors");
                throughput.forEach(System.out::println);

                memory(vertx, client, proxy, proxyPort, memoryRun);
            } finally {
                vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
                proxy.destroy();
                if (!proxy.waitFor(10, TimeUnit.SECONDS)) {
                    proxy.destroyForcibly().waitFor();
                }
            }
        }
    }

    /** {@code --proxy-option=--backend-timeout=0} (repeatable): options for the proxy, to compare settings. */
    private static List<String> proxyOptions(String[] args) {
        return Arrays.stream(args).filter(arg -> arg.startsWith("--proxy-option="))
                .map(arg -> arg.substring("--proxy-option=".length())).toList();
    }

    /** {@code --streams 1,16,256} (the default): the concurrent streaming requests to measure. */
    private static int[] streams(String[] args) {
        int at = Arrays.asList(args).indexOf("--streams");
        String list = at >= 0 && at + 1 < args.length ? args[at + 1] : "1,16,256";
        return Arrays.stream(list.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    /** 16 concurrent streams for the whole run; the proxy's RSS and heap after a full GC, first and last. */
    private static void memory(Vertx vertx, HttpClient client, Process proxy, int port, Duration length)
            throws Exception {
        System.out.printf("%nmemory of the proxy under 16 concurrent streams for %d s (use --long for 10 minutes)%n",
                length.toSeconds());
        Result warm = run(vertx, client, port, STREAMING, 16, Duration.ZERO, Duration.ofSeconds(5));
        long heapStart = heapAfterGc(proxy.pid());
        long rssStart = rss(proxy.pid());
        long rssMax = rssStart;
        long requests = warm.requests();
        long errors = warm.errors();
        long step = Math.max(5, length.toSeconds() / 10);
        System.out.printf("%8s %12s %12s%n", "second", "RSS MiB", "requests");
        for (long second = step; second <= length.toSeconds(); second += step) {
            Result slice = run(vertx, client, port, STREAMING, 16, Duration.ZERO, Duration.ofSeconds(step));
            requests += slice.requests();
            errors += slice.errors();
            long now = rss(proxy.pid());
            rssMax = Math.max(rssMax, now);
            System.out.printf("%8d %12.1f %12d%n", second, now / 1048576.0, requests);
        }
        long heapEnd = heapAfterGc(proxy.pid());
        long rssEnd = rss(proxy.pid());
        rssMax = Math.max(rssMax, rssEnd);
        System.out.printf("heap after full GC: %.1f MiB at the start, %.1f MiB at the end; RSS %.1f -> %.1f MiB"
                + " (max %.1f); %d requests, %d errors%n", heapStart / 1048576.0, heapEnd / 1048576.0,
                rssStart / 1048576.0, rssEnd / 1048576.0, rssMax / 1048576.0, requests, errors);
    }

    /** {@code concurrency} clients, each sending its next request when the last one's answer has fully arrived. */
    private static Result run(Vertx vertx, HttpClient client, int port, String body, int concurrency, Duration warmup,
            Duration measure) throws Exception {
        long measureFrom = System.nanoTime() + warmup.toNanos();
        long measureUntil = measureFrom + measure.toNanos();
        List<Long> latencies = java.util.Collections.synchronizedList(new ArrayList<>());
        AtomicLong errors = new AtomicLong();
        Buffer payload = Buffer.buffer(body);
        List<Future<Void>> workers = new ArrayList<>();
        for (int i = 0; i < concurrency; i++) {
            Promise<Void> done = Promise.promise();
            workers.add(done.future());
            vertx.runOnContext(ignored -> loop(client, port, payload, measureFrom, measureUntil, latencies, errors, done));
        }
        Future.all(workers).toCompletionStage().toCompletableFuture().get(10, TimeUnit.MINUTES);
        long[] sorted = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
        return new Result(sorted.length, errors.get(), measure.toNanos() / 1e9, sorted);
    }

    private static void loop(HttpClient client, int port, Buffer payload, long measureFrom, long measureUntil,
            List<Long> latencies, AtomicLong errors, Promise<Void> done) {
        long start = System.nanoTime();
        if (start >= measureUntil) {
            done.complete();
            return;
        }
        client.request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(port)
                        .setURI("/v1/chat/completions").putHeader("Content-Type", "application/json"))
                .compose(request -> request.send(payload))
                .compose(response -> response.body().map(answer -> response.statusCode() == 200
                        && (answer.length() > 0)))
                .onComplete(result -> {
                    long end = System.nanoTime();
                    if (start >= measureFrom && end <= measureUntil) {
                        if (result.succeeded() && result.result()) {
                            latencies.add(end - start);
                        } else if (errors.incrementAndGet() == 1) {
                            System.out.println("first error on port " + port + ": " + (result.failed()
                                    ? result.cause() : "unexpected status or empty answer"));
                        }
                    }
                    loop(client, port, payload, measureFrom, measureUntil, latencies, errors, done);
                });
    }

    private static void awaitReady(Process proxy, Path log) throws Exception {
        while (!Files.readString(log).contains("ready on")) {
            if (!proxy.isAlive()) {
                throw new IllegalStateException("the proxy exited before it was ready:\n" + Files.readString(log));
            }
            Thread.sleep(50);
        }
    }

    private static long rss(long pid) throws IOException {
        Matcher matcher = Pattern.compile("VmRSS:\\s+(\\d+) kB").matcher(Files.readString(Path.of("/proc/" + pid + "/status")));
        return matcher.find() ? Long.parseLong(matcher.group(1)) * 1024 : -1;
    }

    /** Heap in use right after a full collection (jcmd GC.run, then GC.heap_info): what is really kept. */
    private static long heapAfterGc(long pid) throws Exception {
        jcmd(pid, "GC.run");
        String info = jcmd(pid, "GC.heap_info");
        Matcher matcher = Pattern.compile("used (\\d+)K").matcher(info);
        long used = 0;
        // the first "used" is the whole heap's (G1: "garbage-first heap total ..., used ...")
        if (matcher.find()) {
            used = Long.parseLong(matcher.group(1)) * 1024;
        }
        return used;
    }

    private static String jcmd(long pid, String command) throws Exception {
        Process process = new ProcessBuilder("jcmd", String.valueOf(pid), command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        process.waitFor(30, TimeUnit.SECONDS);
        return output;
    }
}
