package io.epdctl.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The floor: the stage sequence of the layerwise EPD flow sent by the benchmark's own client straight to the
 * nodes, with no proxy. Per request: the encoder call (pictures only, one token, not streamed), then either the
 * PD's stream, or the decoder's stream with a metaserver URL, whose callback (served here) sends the prefill
 * with the callback's kv_transfer_params, as the upstream script and the built-in proxy do.
 */
final class FloorClient implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PATH = "/v1/chat/completions";
    /** The prefill calls, from the metaserver's threads: one connection per thread. */
    private final ThreadLocal<PlainHttpConnection> prefillConnections;
    private final ExecutorService metaserverThreads = Executors.newCachedThreadPool(daemon("floor-metaserver"));
    private final HttpServer metaserver;
    private final Optional<String> encoder;
    private final String generator;
    private final Optional<String> prefiller;
    /** Decoder requests waiting for their callback: engine request id to the prefill body's parts. */
    private final Map<String, Request> awaitingPrefill = new ConcurrentHashMap<>();

    /** One client request, prepared once per body: the JSON each stage sends. */
    private record Request(Optional<String> encoderBody, String generatorBody, String prefillRest) {
    }

    /**
     * {@code encoder} (may be empty), {@code generator} (the PD, or the decoder when {@code prefiller} is given):
     * base URLs such as {@code http://127.0.0.1:8000}.
     */
    FloorClient(Optional<String> encoder, String generator, Optional<String> prefiller) throws IOException {
        this.encoder = encoder;
        this.generator = generator;
        this.prefiller = prefiller;
        this.prefillConnections = ThreadLocal.withInitial(() -> connection(prefiller.orElseThrow()));
        this.metaserver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 4096);
        metaserver.setExecutor(metaserverThreads);
        metaserver.createContext("/v1/metaserver", this::callback);
        metaserver.start();
    }

    /** Sends the bodies in turn over {@code connections} concurrent requests; measures after {@code warmup}. */
    Measurement run(List<String> bodies, int connections, Duration warmup, Duration length) throws Exception {
        List<Request> requests = bodies.stream().map(this::prepare).toList();
        AtomicLong next = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        long start = System.nanoTime();
        long measureFrom = start + warmup.toNanos();
        long end = measureFrom + length.toNanos();
        List<long[]> latencies = new ArrayList<>();
        List<Thread> workers = new ArrayList<>();
        for (int c = 0; c < connections; c++) {
            long[][] mine = {new long[1024]};
            int[] count = {0};
            Thread worker = new Thread(() -> {
                PlainHttpConnection toEncoder = encoder.map(FloorClient::connection).orElse(null);
                PlainHttpConnection toGenerator = connection(generator);
                while (System.nanoTime() < end) {
                    Request request = requests.get((int) (next.getAndIncrement() % requests.size()));
                    long began = System.nanoTime();
                    boolean ok = send(request, toEncoder, toGenerator);
                    long finished = System.nanoTime();
                    if (began >= measureFrom && finished <= end) {
                        if (!ok) {
                            errors.incrementAndGet();
                        } else {
                            if (count[0] == mine[0].length) {
                                mine[0] = Arrays.copyOf(mine[0], count[0] * 2);
                            }
                            mine[0][count[0]++] = finished - began;
                        }
                    }
                }
                if (toEncoder != null) {
                    toEncoder.close();
                }
                toGenerator.close();
                synchronized (latencies) {
                    latencies.add(Arrays.copyOf(mine[0], count[0]));
                }
            }, "floor-" + c);
            worker.setDaemon(true);
            workers.add(worker);
            worker.start();
        }
        for (Thread worker : workers) {
            worker.join();
        }
        long[] all = latencies.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        return new Measurement(all.length, errors.get(), length.toNanos() / 1e9, percentile(all, 50),
                percentile(all, 99), Double.NaN, Double.NaN, Double.NaN);
    }

    private static double percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int index = (int) Math.ceil(p / 100 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))] / 1e6;
    }

    private Request prepare(String body) {
        try {
            ObjectNode request = (ObjectNode) JSON.readTree(body);
            boolean hasImage = body.contains("\"image_url\"");
            Optional<String> encoderBody = encoder.isPresent() && hasImage
                    ? Optional.of(oneToken(request.deepCopy()).toString()) : Optional.empty();
            String generatorBody = body;
            if (prefiller.isPresent()) {
                ObjectNode decode = request.deepCopy();
                decode.putObject("kv_transfer_params").put("do_remote_decode", false).put("do_remote_prefill", true)
                        .put("metaserver", "http://127.0.0.1:" + metaserver.getAddress().getPort() + "/v1/metaserver");
                generatorBody = decode.toString();
            }
            // the prefill body is this with the callback's kv_transfer_params put first
            String prefillRest = oneToken(request.deepCopy()).toString().substring(1);
            return new Request(encoderBody, generatorBody, prefillRest);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The encoder's and the prefiller's request: one token, not streamed. */
    private static ObjectNode oneToken(ObjectNode request) {
        request.put("stream", false).put("max_tokens", 1).put("min_tokens", 1);
        request.remove("stream_options");
        return request;
    }

    /** One client request through every stage; true when it was answered whole. */
    private boolean send(Request request, PlainHttpConnection toEncoder, PlainHttpConnection toGenerator) {
        String id = UUID.randomUUID().toString();
        try {
            if (request.encoderBody().isPresent()) {
                PlainHttpConnection.Response encoded = toEncoder.post(PATH, request.encoderBody().get(), id);
                if (encoded.status() != 200) {
                    return false;
                }
            }
            String engineRequestId = "chatcmpl-" + id;
            if (prefiller.isPresent()) {
                awaitingPrefill.put(engineRequestId, request);
            }
            try {
                PlainHttpConnection.Response answer = toGenerator.post(PATH, request.generatorBody(), id);
                return answer.status() == 200 && answer.body().contains("data: [DONE]");
            } finally {
                awaitingPrefill.remove(engineRequestId);
            }
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * The decoder's callback: the prefill, answered with the prefiller's status once it is done (a failed prefill
     * fails the decoder's request, which the client counts).
     */
    private void callback(HttpExchange exchange) throws IOException {
        try (exchange) {
            JsonNode params = JSON.readTree(exchange.getRequestBody().readAllBytes());
            String engineRequestId = params.path("request_id").asText();
            Request request = awaitingPrefill.get(engineRequestId);
            if (request == null || prefiller.isEmpty()) {
                answer(exchange, 404, "{\"detail\":\"no request " + engineRequestId + " awaits a prefill\"}");
                return;
            }
            String body = "{\"kv_transfer_params\":" + params + "," + request.prefillRest();
            PlainHttpConnection.Response prefilled = prefillConnections.get().post(PATH, body,
                    engineRequestId.substring("chatcmpl-".length()));
            answer(exchange, prefilled.status(), prefilled.body());
        }
    }

    private static void answer(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** A connection to a base URL such as {@code http://127.0.0.1:8000}. */
    private static PlainHttpConnection connection(String baseUrl) {
        URI uri = URI.create(baseUrl);
        return new PlainHttpConnection(uri.getHost(), uri.getPort());
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return runnable -> {
            Thread thread = new Thread(runnable, name);
            thread.setDaemon(true);
            return thread;
        };
    }

    @Override
    public void close() {
        metaserver.stop(0);
        metaserverThreads.shutdownNow();
    }
}
