package io.epdctl.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.epdctl.topology.Role;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.RequestOptions;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small real HTTP server playing one vLLM role behind the proxy: an encoder or prefiller answers
 * one-token requests, a PD streams tokens, a decoder first calls the proxy's metaserver like vLLM's
 * layerwise connector and then streams. Faults are switched on per test.
 */
final class TestBackend implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    record Received(String path, String requestId, String authorization, JsonNode body) {
    }

    private final Role role;
    private final Vertx vertx = Vertx.vertx();
    private final HttpClient metaserverClient = vertx.createHttpClient();
    private final HttpServer server;
    final List<Received> received = new CopyOnWriteArrayList<>();
    /** Answers whose client (the proxy) dropped the connection before they ended. */
    final AtomicInteger abandoned = new AtomicInteger();
    /** What the metaserver answered, one status per call. */
    final List<Integer> metaserverStatuses = new CopyOnWriteArrayList<>();

    volatile int healthStatus = 200;
    /** Health probes get no answer (a node that hangs). */
    volatile boolean healthSilent;
    volatile int errorStatus;
    volatile String errorBody = "{\"error\":{\"message\":\"bad request from the test\",\"code\":400}}";
    volatile int tokens = 3;
    /** Drops the connection after this many chunks (negative: never). */
    volatile int breakAfterChunks = -1;
    volatile long chunkDelayMillis;
    /** Characters added to each token's text, to make the stream large. */
    volatile int chunkPadding;
    /** Takes generation requests and never answers them. */
    volatile boolean silent;
    /** An encoder or prefiller starts its answer, then sends nothing more. */
    volatile boolean stallAfterFirstByte;
    /**
     * The share of requests whose first attempt here gets its connection closed before any answer (as a
     * node that sheds load does), spread evenly over the requests in the order they come; their next
     * attempt here is answered.
     */
    volatile double dropShare;
    /** Closes every generation request's connection before any answer. */
    volatile boolean dropAll;
    /** The next this many one-token answers (encoder, prefiller) start, then their connection is closed. */
    final AtomicInteger answersToBreak = new AtomicInteger();
    /** Connections closed by dropShare or dropAll. */
    final AtomicInteger dropped = new AtomicInteger();
    /** Generation requests (and one-token answers) wait here while {@link #holdAnswers} is set, until {@link #release}. */
    private final List<Runnable> heldAnswers = new CopyOnWriteArrayList<>();
    volatile boolean holdAnswers;
    /** A decoder of the pull connector: it generates at once, with no metaserver call (it pulls the KV itself). */
    volatile boolean pullMode;
    /** A decoder calls the metaserver on this port instead of the one it was given (0: the one given). */
    volatile int metaserverPort;
    private final Set<String> seenRequests = ConcurrentHashMap.newKeySet();
    private final AtomicLong newRequests = new AtomicLong();

    private TestBackend(Role role) throws Exception {
        this.role = role;
        this.server = vertx.createHttpServer().requestHandler(this::handle).listen(0, "127.0.0.1")
                .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    static TestBackend start(Role role) throws Exception {
        return new TestBackend(role);
    }

    int port() {
        return server.actualPort();
    }

    Endpoint endpoint() {
        return new Endpoint("127.0.0.1", port());
    }

    /** The requests that came for generation (not health probes). */
    List<Received> generations() {
        return received.stream().filter(request -> request.path().endsWith("completions")).toList();
    }

    private void handle(HttpServerRequest request) {
        if (request.path().equals("/health")) {
            if (!healthSilent) {
                request.response().setStatusCode(healthStatus).end();
            }
            return;
        }
        request.body().onSuccess(raw -> {
            JsonNode body = raw.length() == 0 ? null : parse(raw);
            received.add(new Received(request.path(), request.getHeader("X-Request-Id"),
                    request.getHeader("Authorization"), body));
            if (holdAnswers && !request.path().equals("/v1/models")) {
                heldAnswers.add(() -> answer(request, body));
                return;
            }
            answer(request, body);
        });
    }

    /** Requests waiting for {@link #release}. */
    int held() {
        return heldAnswers.size();
    }

    /** Stops holding, and answers every request held so far. */
    void release() {
        holdAnswers = false;
        List<Runnable> waiting = List.copyOf(heldAnswers);
        heldAnswers.removeAll(waiting);
        vertx.runOnContext(ignored -> waiting.forEach(Runnable::run));
    }

    private void answer(HttpServerRequest request, JsonNode body) {
        {
            HttpServerResponse response = request.response();
            if (!request.path().equals("/v1/models") && drops(request.getHeader("X-Request-Id"))) {
                dropped.incrementAndGet();
                request.connection().close();
            } else if (request.path().equals("/v1/models")) {
                response.putHeader("Content-Type", "application/json")
                        .end("{\"object\":\"list\",\"data\":[{\"id\":\"test-model\",\"object\":\"model\"}]}");
            } else if (errorStatus != 0) {
                response.setStatusCode(errorStatus).putHeader("Content-Type", "application/json").end(errorBody);
            } else if ((role == Role.ENCODER || role == Role.PREFILL) && stallAfterFirstByte) {
                response.closeHandler(closed -> abandoned.incrementAndGet());
                response.setChunked(true).putHeader("Content-Type", "application/json").write("{");
            } else if ((role == Role.ENCODER || role == Role.PREFILL) && answersToBreak.getAndUpdate(left -> Math.max(0, left - 1)) > 0) {
                response.setChunked(true).putHeader("Content-Type", "application/json").write("{\"id\":")
                        .onComplete(written -> request.connection().close());
            } else if (role == Role.ENCODER || role == Role.PREFILL) {
                response.putHeader("Content-Type", "application/json")
                        .end("{\"id\":\"one-token\",\"choices\":[{\"index\":0,\"text\":\"x\"}],"
                                + "\"kv_transfer_params\":{\"from\":\"" + role.yamlName() + "\"}}");
            } else if (role == Role.DECODE && !pullMode) {
                callMetaserverThenGenerate(request, body, response);
            } else {
                generate(request, body, response);
            }
        }
    }

    private boolean drops(String requestId) {
        if (dropAll) {
            return true;
        }
        if (requestId == null || !seenRequests.add(requestId)) {
            return false;
        }
        long n = newRequests.getAndIncrement();
        return Math.floor((n + 1) * dropShare) > Math.floor(n * dropShare);
    }

    /** As vLLM's layerwise connector does on a decoder: ask the proxy's metaserver for the KV cache first. */
    private void callMetaserverThenGenerate(HttpServerRequest request, JsonNode body, HttpServerResponse response) {
        String id = request.getHeader("X-Request-Id");
        ObjectNode params = JSON.createObjectNode();
        params.put("request_id", request.path().equals("/v1/completions") ? "cmpl-" + id + "-0" : "chatcmpl-" + id);
        params.put("do_remote_decode", true);
        params.put("do_remote_prefill", false);
        params.putArray("remote_block_ids").add(1).add(2);
        params.put("remote_engine_id", "1");
        params.put("remote_host", "127.0.0.1");
        params.put("remote_port", 30000);
        params.put("remote_tp_size", 1);
        String metaserver = body.path("kv_transfer_params").path("metaserver").asText();
        java.net.URI uri = java.net.URI.create(metaserver);
        metaserverClient.request(new RequestOptions().setMethod(HttpMethod.POST).setHost(uri.getHost())
                        .setPort(metaserverPort != 0 ? metaserverPort : uri.getPort()).setURI(uri.getPath()))
                .compose(call -> call.send(Buffer.buffer(params.toString())))
                .compose(answer -> answer.body().map(ignored -> answer.statusCode()))
                .onComplete(result -> {
                    int status = result.succeeded() ? result.result() : -1;
                    metaserverStatuses.add(status);
                    if (status == 200) {
                        generate(request, body, response);
                    } else if (!response.closed()) {
                        response.setStatusCode(500).end("{\"error\":{\"message\":\"KV cache never arrived\"}}");
                    }
                });
    }

    private void generate(HttpServerRequest request, JsonNode body, HttpServerResponse response) {
        response.closeHandler(closed -> {
            if (!response.ended()) {
                abandoned.incrementAndGet();
            }
        });
        if (silent) {
            return;
        }
        if (!body.path("stream").asBoolean(false)) {
            response.putHeader("Content-Type", "application/json")
                    .end("{\"id\":\"whole\",\"choices\":[{\"index\":0,\"text\":\"" + "tok".repeat(tokens) + "\"}]}");
            return;
        }
        response.setChunked(true).putHeader("Content-Type", "text/event-stream; charset=utf-8");
        sendChunk(request, response, 0);
    }

    /** Sends chunks from {@code first} on, paced by the delay if any, else as fast as the proxy takes them. */
    private void sendChunk(HttpServerRequest request, HttpServerResponse response, int first) {
        for (int index = first; !response.closed(); index++) {
            if (index == breakAfterChunks) {
                request.connection().close();
                return;
            }
            if (index == tokens) {
                response.end("data: [DONE]\n\n");
                return;
            }
            response.write("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok" + index
                    + "-".repeat(chunkPadding) + "\"}}]}\n\n");
            int next = index + 1;
            if (chunkDelayMillis > 0) {
                vertx.setTimer(chunkDelayMillis, id -> sendChunk(request, response, next));
                return;
            }
            if (response.writeQueueFull()) {
                response.drainHandler(drained -> sendChunk(request, response, next));
                return;
            }
        }
    }

    private static JsonNode parse(Buffer raw) {
        try {
            return JSON.readTree(raw.getBytes());
        } catch (java.io.IOException e) {
            throw new IllegalStateException("the proxy sent a body that is not JSON: " + raw, e);
        }
    }

    @Override
    public void close() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
}
