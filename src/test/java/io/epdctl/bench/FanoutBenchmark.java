package io.epdctl.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.epdctl.testing.SimCluster;
import io.epdctl.testing.SimNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Encoder fan-out against single dispatch, side by side in one run (bin/bench-fanout): 4 vllm-sim encoders
 * (each image takes --encode-ms on an encoder, one image after another per instance) and one PD behind two
 * built-in proxies started from the jar, one with --encoder-dispatch-mode single and one with fanout, over the
 * same nodes; streamed chat requests with --images distinct pictures each; the time to the first generated
 * token as the client sees it. The two proxies take turns: request by request at 1 concurrent, in alternating
 * blocks at more, so that both see the same machine.
 */
public final class FanoutBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> MODES = List.of("single", "fanout");
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    public static void main(String[] args) throws Exception {
        int encoders = option(args, "--encoders", 4);
        int images = option(args, "--images", 4);
        int encodeMillis = option(args, "--encode-ms", 50);
        int tokenMillis = option(args, "--token-ms", 20);
        int rounds = option(args, "--rounds", 30);
        int[] concurrencies = Arrays.stream(stringOption(args, "--concurrency", "1,4").split(","))
                .mapToInt(Integer::parseInt).toArray();
        Path dir = Files.createTempDirectory("epdctl-bench-fanout");
        Path jar = Path.of("target", "epdctl.jar").toAbsolutePath();
        System.out.printf("machine: %d cores; %d vllm-sim encoders (%d ms per image), 1 PD (%d ms per token);"
                + " %d images per request; proxies: %s proxy, single and fanout%n",
                Runtime.getRuntime().availableProcessors(), encoders, encodeMillis, tokenMillis, images, jar.getFileName());
        Map<String, String> env = Map.of("VLLM_SIM_ENCODE_DELAY_MS", String.valueOf(encodeMillis),
                "VLLM_SIM_TOKEN_DELAY_MS", String.valueOf(tokenMillis),
                "JAVA_TOOL_OPTIONS", "-Dsun.net.httpserver.nodelay=true");
        List<Process> proxies = new ArrayList<>();
        try (SimCluster cluster = SimCluster.onePd(dir, env)) {
            List<SimNode> encoderNodes = new ArrayList<>(List.of(cluster.node("e0")));
            List<SimNode> extra = new ArrayList<>();
            try {
                for (int i = 1; i < encoders; i++) {
                    extra.add(SimNode.builder(dir).name("e" + i).flags(SimCluster.commonFlags())
                            .flags(cluster.encoderFlags()).env("ASCEND_RT_VISIBLE_DEVICES", String.valueOf(4 + i))
                            .env(env).start());
                }
                encoderNodes.addAll(extra);
                SimNode pd = cluster.node("pd0");
                Map<String, Integer> ports = new LinkedHashMap<>();
                for (String mode : MODES) {
                    int port = SimNode.freePort();
                    proxies.add(startProxy(jar, dir, mode, port, encoderNodes, pd));
                    ports.put(mode, port);
                }
                System.out.println("proxy: java -jar target/epdctl.jar proxy --encoder-hosts 127.0.0.1 ... "
                        + "--pd-hosts 127.0.0.1 --pd-ports ... --encoder-dispatch-mode single|fanout");
                for (String mode : MODES) {
                    for (int i = 0; i < 3; i++) {
                        timeToFirstToken(ports.get(mode), images); // warm-up: JIT, connections
                    }
                }
                double hitsBefore = pd.metric("vllm_sim:ec_cache_hits_total");
                double missesBefore = pd.metric("vllm_sim:ec_cache_misses_total");
                System.out.printf("%n%-28s %10s %10s %10s %10s %8s %8s%n", "time to first token", "p50", "p90",
                        "mean", "max", "requests", "errors");
                for (int concurrency : concurrencies) {
                    Map<String, Samples> results = run(ports, images, concurrency, rounds);
                    for (String mode : MODES) {
                        Samples samples = results.get(mode);
                        System.out.printf("%-28s %8.1fms %8.1fms %8.1fms %8.1fms %8d %8d%n",
                                mode + ", " + concurrency + " concurrent", samples.percentile(50), samples.percentile(90),
                                samples.mean(), samples.percentile(100), samples.count(), samples.errors.get());
                    }
                    System.out.printf("%-28s %9.2fx %9.2fx %9.2fx%n", "single / fanout",
                            results.get("single").percentile(50) / results.get("fanout").percentile(50),
                            results.get("single").percentile(90) / results.get("fanout").percentile(90),
                            results.get("single").mean() / results.get("fanout").mean());
                }
                System.out.printf("%nPD encoder cache over the measured requests: %.0f hits, %.0f misses%n",
                        pd.metric("vllm_sim:ec_cache_hits_total") - hitsBefore,
                        pd.metric("vllm_sim:ec_cache_misses_total") - missesBefore);
            } finally {
                for (Process proxy : proxies) {
                    proxy.destroy();
                    if (!proxy.waitFor(10, TimeUnit.SECONDS)) {
                        proxy.destroyForcibly().waitFor();
                    }
                }
                extra.forEach(SimNode::close);
            }
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }

    /** Time to first token samples of one mode, in milliseconds. */
    private static final class Samples {
        final List<Double> millis = Collections.synchronizedList(new ArrayList<>());
        final AtomicLong errors = new AtomicLong();

        int count() {
            return millis.size();
        }

        double percentile(double p) {
            List<Double> sorted = new ArrayList<>(millis);
            Collections.sort(sorted);
            if (sorted.isEmpty()) {
                return Double.NaN;
            }
            int index = (int) Math.min(sorted.size() - 1, Math.ceil(p / 100 * sorted.size()) - 1);
            return sorted.get(Math.max(index, 0));
        }

        double mean() {
            return new ArrayList<>(millis).stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        }
    }

    /**
     * At 1 concurrent, {@code rounds} requests per mode, the modes alternating request by request (which one goes
     * first alternates too); at more, {@code rounds / 5} blocks per mode of {@code concurrency} clients sending 5
     * requests each, one mode's block after the other's.
     */
    private static Map<String, Samples> run(Map<String, Integer> ports, int images, int concurrency, int rounds)
            throws Exception {
        Map<String, Samples> results = new LinkedHashMap<>();
        MODES.forEach(mode -> results.put(mode, new Samples()));
        ExecutorService clients = Executors.newFixedThreadPool(concurrency);
        try {
            int perBlock = concurrency == 1 ? 1 : 5;
            for (int block = 0; block < rounds / perBlock; block++) {
                List<String> order = block % 2 == 0 ? MODES : List.of(MODES.get(1), MODES.get(0));
                for (String mode : order) {
                    List<Future<?>> running = new ArrayList<>();
                    for (int client = 0; client < concurrency; client++) {
                        running.add(clients.submit(() -> {
                            for (int i = 0; i < perBlock; i++) {
                                try {
                                    results.get(mode).millis.add(timeToFirstToken(ports.get(mode), images));
                                } catch (Exception e) {
                                    if (results.get(mode).errors.incrementAndGet() == 1) {
                                        System.out.println("first error (" + mode + "): " + e);
                                    }
                                }
                            }
                        }));
                    }
                    for (Future<?> client : running) {
                        client.get(10, TimeUnit.MINUTES);
                    }
                }
            }
        } finally {
            clients.shutdownNow();
        }
        return results;
    }

    /** One streamed request with {@code images} pictures no request sent before: ms until the first token's text. */
    private static double timeToFirstToken(int port, int images) throws Exception {
        ObjectNode body = JSON.createObjectNode().put("model", SimCluster.SERVED_NAME).put("stream", true).put("max_tokens", 8);
        ArrayNode content = body.putArray("messages").addObject().put("role", "user").putArray("content");
        String request = UUID.randomUUID().toString();
        for (int i = 0; i < images; i++) {
            content.addObject().put("type", "image_url").putObject("image_url")
                    .put("url", "file:///data/bench/" + request + "-" + i + ".png");
        }
        content.addObject().put("type", "text").put("text", "What changes from one picture to the next?");
        long start = System.nanoTime();
        HttpResponse<Stream<String>> response = CLIENT.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/v1/chat/completions")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(), HttpResponse.BodyHandlers.ofLines());
        double first = Double.NaN;
        boolean done = false;
        try (Stream<String> lines = response.body()) {
            for (String line : (Iterable<String>) lines::iterator) {
                if (Double.isNaN(first) && line.startsWith("data: {") && line.contains("\"content\":\"")
                        && !line.contains("\"content\":\"\"")) {
                    first = (System.nanoTime() - start) / 1e6;
                }
                done |= line.equals("data: [DONE]");
            }
        }
        if (response.statusCode() != 200 || Double.isNaN(first) || !done) {
            throw new IOException("status " + response.statusCode() + (done ? "" : ", the stream did not end")
                    + (Double.isNaN(first) ? ", no token" : ""));
        }
        return first;
    }

    private static Process startProxy(Path jar, Path dir, String mode, int port, List<SimNode> encoders, SimNode pd)
            throws Exception {
        List<String> command = new ArrayList<>(List.of("java", "-jar", jar.toString(), "proxy", "--host", "127.0.0.1",
                "--port", String.valueOf(port), "--control-file", dir.resolve(mode + ".control").toString(),
                "--encoder-dispatch-mode", mode, "--encoder-hosts"));
        encoders.forEach(node -> command.add("127.0.0.1"));
        command.add("--encoder-ports");
        encoders.forEach(node -> command.add(String.valueOf(node.port())));
        command.addAll(List.of("--pd-hosts", "127.0.0.1", "--pd-ports", String.valueOf(pd.port())));
        Path log = dir.resolve("proxy-" + mode + ".log");
        Process proxy = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        while (!Files.readString(log).contains("ready on")) {
            if (!proxy.isAlive()) {
                throw new IllegalStateException("the " + mode + " proxy exited before it was ready:\n" + Files.readString(log));
            }
            Thread.sleep(50);
        }
        return proxy;
    }

    private static int option(String[] args, String name, int fallback) {
        return Integer.parseInt(stringOption(args, name, String.valueOf(fallback)));
    }

    private static String stringOption(String[] args, String name, String fallback) {
        int at = Arrays.asList(args).indexOf(name);
        return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
    }
}
