package io.epdctl.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.function.UnaryOperator;

/**
 * The proxy's {@code POST /v1/metaserver} step, as the vLLM-Ascend layerwise proxy does it: on a decoder's
 * callback, send the original request with the callback as its kv_transfer_params (stream off, max_tokens 1,
 * same X-Request-Id) to the prefill instance, and answer once the prefill answered. {@code rewrite} lets a test
 * corrupt the callback on its way (a wrong port); {@code prefillUrl == null} drops callbacks.
 */
final class Metaserver implements AutoCloseable {
    private final HttpServer server;
    private final List<JsonNode> callbacks = new CopyOnWriteArrayList<>();
    private final List<Integer> prefillStatuses = new CopyOnWriteArrayList<>();
    private final Map<String, ObjectNode> pending = new ConcurrentHashMap<>();

    Metaserver(String prefillUrl, UnaryOperator<ObjectNode> rewrite) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.setExecutor(Executors.newCachedThreadPool(runnable -> {
            Thread thread = new Thread(runnable, "metaserver");
            thread.setDaemon(true);
            return thread;
        }));
        server.createContext("/v1/metaserver", exchange -> {
            try (exchange) {
                ObjectNode callback = (ObjectNode) Http.JSON.readTree(exchange.getRequestBody());
                callbacks.add(callback.deepCopy());
                String engineId = callback.path("request_id").asText();
                ObjectNode original = pending.get(engineId);
                if (prefillUrl != null && original != null) {
                    ObjectNode request = original.deepCopy();
                    request.set("kv_transfer_params", rewrite.apply(callback));
                    request.put("stream", false).put("max_tokens", 1).put("min_tokens", 1);
                    request.remove("stream_options");
                    String api = engineId.startsWith("chatcmpl-") ? "/v1/chat/completions" : "/v1/completions";
                    prefillStatuses.add(Http.post(prefillUrl + api, request,
                            Map.of("X-Request-Id", originalId(engineId))).statusCode());
                }
                exchange.sendResponseHeaders(200, -1);
            }
        });
        server.start();
    }

    /** The proxy keeps each request under the engine's id until the decoder calls back. */
    void expect(String engineRequestId, ObjectNode original) {
        pending.put(engineRequestId, original);
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1/metaserver";
    }

    List<JsonNode> callbacks() {
        return List.copyOf(callbacks);
    }

    /** The callbacks, once {@code count} arrived (the decoder sends them in the background). */
    List<JsonNode> callbacks(int count) {
        awaitSize(callbacks, count);
        return List.copyOf(callbacks);
    }

    /**
     * The prefill's answers, once {@code count} arrived: the decoder may answer its client before the prefill
     * answers the metaserver (it only needs the KV), so tests wait for them.
     */
    List<Integer> prefillStatuses(int count) {
        awaitSize(prefillStatuses, count);
        return List.copyOf(prefillStatuses);
    }

    private static void awaitSize(List<?> list, int count) {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
        while (list.size() < count && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static String originalId(String engineId) {
        return engineId.startsWith("chatcmpl-") ? engineId.substring("chatcmpl-".length())
                : engineId.substring("cmpl-".length(), engineId.length() - 2);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
