package io.epdctl.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.epdctl.sim.transfer.EcStore;
import io.epdctl.sim.transfer.KvHandshake;
import io.epdctl.sim.transfer.KvPull;
import io.epdctl.sim.transfer.KvReceiver;
import io.epdctl.sim.transfer.KvSender;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/** The OpenAI-compatible HTTP API of one simulated vLLM instance, with its EC and KV hand-offs. */
final class SimServer {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String VERSION = "0.13.0+sim";
    private static final int KV_BLOCK_SIZE = 128;
    /** Bytes of "KV cache" pushed per prompt token: enough to be a real transfer, small enough for tests. */
    private static final int KV_BYTES_PER_TOKEN = 256;
    private static final int DEFAULT_MAX_TOKENS = 16;

    private final ServeArgs args;
    private final Faults faults;
    private final SimLog log;
    private final Optional<EcStore> ecStore;
    private final Optional<KvReceiver> kvReceiver;
    private final Optional<KvHandshake> kvHandshake;
    private final String advertisedHost;
    private final Runnable crash;
    private final Metrics metrics = new Metrics();
    private final Semaphore batchSlots;
    private final AtomicLong finishedRequests = new AtomicLong();
    private final HttpClient callbackClient;
    private final ExecutorService handlers;
    /** The vision encoder, one per instance: see {@link #encode(int)}. */
    private final java.util.concurrent.locks.ReentrantLock visionEncoder = new java.util.concurrent.locks.ReentrantLock(true);
    private HttpServer server;

    /** {@code crash} ends the process as a dying engine would; called after the N-th request when asked to. */
    SimServer(ServeArgs args, Faults faults, SimLog log, Optional<KvReceiver> kvReceiver,
            Optional<KvHandshake> kvHandshake, String advertisedHost, ProxySelector callbackProxy, Runnable crash) {
        this.args = args;
        this.faults = faults;
        this.log = log;
        this.ecStore = args.ecTransfer().map(ec -> new EcStore(ec.sharedStoragePath()));
        this.kvReceiver = kvReceiver;
        this.kvHandshake = kvHandshake;
        this.advertisedHost = advertisedHost;
        this.crash = crash;
        this.batchSlots = new Semaphore(args.maxNumSeqs(), true);
        this.handlers = Executors.newCachedThreadPool(runnable -> {
            Thread thread = new Thread(runnable, "http");
            thread.setDaemon(true);
            return thread;
        });
        // HTTP/1.1: the JDK's default h2c upgrade is refused by uvicorn ("Unsupported upgrade request", 400)
        this.callbackClient = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).executor(handlers)
                .connectTimeout(Duration.ofSeconds(10))
                .proxy(callbackProxy).build();
    }

    /** Starts listening; the port refused connections until now, as vLLM's does while loading. */
    void start(InetSocketAddress address, int backlog) throws IOException {
        server = HttpServer.create(address, backlog);
        server.setExecutor(handlers);
        server.createContext("/", this::route);
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    void stop() {
        if (server != null) {
            server.stop(0);
        }
        handlers.shutdownNow();
    }

    private void route(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            switch (path) {
                case "/health" -> requireMethod(exchange, "GET", () -> send(exchange, faults.healthStatus(), null, ""));
                case "/v1/models" -> requireMethod(exchange, "GET", () -> sendJson(exchange, 200, models()));
                case "/version" -> requireMethod(exchange, "GET",
                        () -> sendJson(exchange, 200, JSON.createObjectNode().put("version", VERSION)));
                case "/metrics" -> requireMethod(exchange, "GET", () -> send(exchange, 200,
                        "text/plain; version=0.0.4; charset=utf-8",
                        metrics.render(args.servedModelName(), args.maxNumSeqs(),
                                kvReceiver.map(KvReceiver::received).orElse(0L),
                                kvReceiver.map(KvReceiver::refused).orElse(0L),
                                kvHandshake.map(h -> new Metrics.Handshake(h.served(), h.refused(), h.expired(), h.holding()))
                                        .orElse(Metrics.Handshake.NONE))));
                case "/v1/chat/completions" -> requireMethod(exchange, "POST", () -> complete(exchange, true));
                case "/v1/completions" -> requireMethod(exchange, "POST", () -> complete(exchange, false));
                default -> sendJson(exchange, 404, JSON.createObjectNode().put("detail", "Not Found"));
            }
        } catch (IOException e) {
            // the client went away; nothing to answer
        }
        // after the exchange is closed, so that the N-th answer is delivered whole
        if (faults.crashAfterRequests().isPresent()
                && finishedRequests.get() >= faults.crashAfterRequests().getAsInt()) {
            crash.run();
        }
    }

    private interface Action {
        void run() throws IOException;
    }

    private static void requireMethod(HttpExchange exchange, String method, Action action) throws IOException {
        if (exchange.getRequestMethod().equals(method)) {
            action.run();
        } else {
            sendJson(exchange, 405, JSON.createObjectNode().put("detail", "Method Not Allowed"));
        }
    }

    private ObjectNode models() {
        ObjectNode list = JSON.createObjectNode().put("object", "list");
        ArrayNode data = list.putArray("data");
        List<String> names = args.servedModelNames().isEmpty() ? List.of(args.model()) : args.servedModelNames();
        for (String name : names) {
            data.addObject().put("id", name).put("object", "model").put("created", now()).put("owned_by", "vllm")
                    .put("root", args.model()).putNull("parent").put("max_model_len", args.maxModelLen());
        }
        return list;
    }

    /** One completion request: admission, EC, KV hand-off for its role, then generation. */
    private void complete(HttpExchange exchange, boolean chat) throws IOException {
        String headerId = exchange.getRequestHeaders().getFirst("X-Request-Id");
        String requestId = headerId != null && !headerId.isBlank() ? headerId : UUID.randomUUID().toString().replace("-", "");
        if (args.enableRequestIdHeaders()) {
            exchange.getResponseHeaders().set("X-Request-Id", requestId);
        }
        // vLLM's internal ids: the ones the KV connector and the proxy's metaserver agree on
        String responseId = (chat ? "chatcmpl-" : "cmpl-") + requestId;
        String engineRequestId = chat ? responseId : responseId + "-0";
        try {
            JsonNode body = readBody(exchange);
            String model = body.path("model").asText(args.servedModelName());
            if (!args.serves(model)) {
                sendError(exchange, 404, "NotFoundError", "The model `" + model + "` does not exist.");
                return;
            }
            Prompt prompt = chat ? Prompt.ofChat(body) : Prompt.ofCompletion(body);
            int maxTokens = maxTokens(body, chat);
            if (prompt.tokens() + maxTokens > args.maxModelLen()) {
                throw new Prompt.BadRequest("This model's maximum context length is " + args.maxModelLen()
                        + " tokens. However, you requested " + (prompt.tokens() + maxTokens) + " tokens ("
                        + prompt.tokens() + " in the messages, " + maxTokens + " in the completion).");
            }
            metrics.waiting.incrementAndGet();
            batchSlots.acquireUninterruptibly();
            metrics.waiting.decrementAndGet();
            metrics.running.incrementAndGet();
            try {
                JsonNode kvParams = body.path("kv_transfer_params");
                if (!handOffEncoderCache(exchange, prompt, engineRequestId)
                        || !receiveKv(exchange, kvParams, engineRequestId, prompt)
                        || !pullKv(exchange, kvParams, engineRequestId)
                        || !pushKv(exchange, kvParams, engineRequestId, prompt)) {
                    return;
                }
                ObjectNode kvAnswer = holdKv(kvParams, engineRequestId, prompt);
                List<String> tokens = TextGenerator.tokens(prompt.text() + "\u0000" + prompt.images(), maxTokens);
                metrics.promptTokens.addAndGet(prompt.tokens());
                if (body.path("stream").asBoolean(false)) {
                    stream(exchange, chat, responseId, model, tokens, prompt, body);
                } else {
                    answer(exchange, chat, responseId, model, tokens, prompt, kvAnswer);
                }
                metrics.requestSuccess.incrementAndGet();
            } finally {
                metrics.running.decrementAndGet();
                batchSlots.release();
            }
        } catch (Prompt.BadRequest e) {
            sendError(exchange, 400, "BadRequestError", e.getMessage());
        } finally {
            finishedRequests.incrementAndGet();
        }
    }

    private static JsonNode readBody(HttpExchange exchange) throws IOException, Prompt.BadRequest {
        byte[] bytes = exchange.getRequestBody().readAllBytes();
        try {
            JsonNode body = JSON.readTree(bytes);
            if (body == null || !body.isObject()) {
                throw new Prompt.BadRequest("the request body must be a JSON object");
            }
            return body;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new Prompt.BadRequest("JSON decode error: " + e.getOriginalMessage());
        }
    }

    private static int maxTokens(JsonNode body, boolean chat) throws Prompt.BadRequest {
        JsonNode value = chat && body.hasNonNull("max_completion_tokens") ? body.get("max_completion_tokens")
                : body.get("max_tokens");
        if (value == null || value.isNull()) {
            return DEFAULT_MAX_TOKENS;
        }
        if (!value.canConvertToInt() || !value.isIntegralNumber() || value.asInt() < 1) {
            throw new Prompt.BadRequest("max_tokens must be at least 1, got " + value + ".");
        }
        return value.asInt();
    }

    /**
     * ECExampleConnector: the producer encodes and saves each image's output under the image's own hash (so a
     * consumer finds every image of a request whether the images were encoded in one request or one per
     * request); a consumer loads it, and encodes an image it does not find itself. False when the request
     * failed (already answered): a file that could not be written, or a cut file read.
     */
    private boolean handOffEncoderCache(HttpExchange exchange, Prompt prompt, String requestId) throws IOException {
        if (prompt.images().isEmpty()) {
            return true;
        }
        if (ecStore.isEmpty()) {
            encode(prompt.images().size());
            return true;
        }
        EcStore store = ecStore.get();
        for (String image : prompt.images()) {
            String hash = EcStore.mmHash(image);
            try {
                if (args.ecTransfer().get().producer()) {
                    encode(1);
                    store.save(hash, Prompt.TOKENS_PER_IMAGE);
                    metrics.ecSaves.incrementAndGet();
                } else if (store.load(hash).isPresent()) {
                    metrics.ecHits.incrementAndGet();
                } else {
                    metrics.ecMisses.incrementAndGet();
                    log.info("ec_connector.py", "Encoder cache miss for " + requestId + ": " + store.fileOf(hash)
                            + " not found; running the vision encoder locally");
                    encode(1);
                }
            } catch (IOException e) {
                String message = "Encoder cache of " + requestId + " at " + store.fileOf(hash) + ": " + e;
                log.error("ec_connector.py", message);
                sendError(exchange, 500, "InternalServerError", message);
                return false;
            }
        }
        return true;
    }

    /**
     * The vision encoder's work on {@code images} images: VLLM_SIM_ENCODE_DELAY_MS each. One instance has one
     * encoder (its NPUs), so the images of concurrent requests are encoded one after another, in arrival order:
     * spreading a request's images over several instances shortens it, sending more to one does not.
     */
    private void encode(int images) {
        if (faults.encodeDelayMillis() <= 0) {
            return;
        }
        visionEncoder.lock();
        try {
            sleep(images * faults.encodeDelayMillis());
        } finally {
            visionEncoder.unlock();
        }
    }

    /**
     * kv_consumer with do_remote_prefill: ask the metaserver to have a prefill instance compute this request,
     * then wait for its KV on our kv port. False when the request failed (already answered).
     */
    private boolean receiveKv(HttpExchange exchange, JsonNode kvParams, String engineRequestId, Prompt prompt)
            throws IOException {
        if (kvReceiver.isEmpty() || !kvParams.path("do_remote_prefill").asBoolean(false)) {
            return true;
        }
        var arrival = kvReceiver.get().expect(engineRequestId);
        String metaserver = kvParams.path("metaserver").asText("");
        if (!metaserver.isEmpty()) {
            postCallback(metaserver, engineRequestId, prompt);
        }
        try {
            var push = arrival.get(faults.kvTimeoutMillis(), TimeUnit.MILLISECONDS);
            log.info("mooncake_layerwise_connector.py", "Received KV of " + engineRequestId + " (" + push.bytes()
                    + " bytes) from engine " + push.senderEngineId());
            return true;
        } catch (TimeoutException | InterruptedException | java.util.concurrent.ExecutionException e) {
            kvReceiver.get().forget(engineRequestId);
            metrics.kvWaitTimeouts.incrementAndGet();
            String message = "KV cache of " + engineRequestId + " did not arrive on port "
                    + args.firstKvPort() + " within " + faults.kvTimeoutMillis() + " ms";
            log.error("mooncake_layerwise_connector.py", message);
            sendError(exchange, 500, "InternalServerError", message);
            return false;
        }
    }

    private void postCallback(String metaserver, String engineRequestId, Prompt prompt) {
        ObjectNode callback = JSON.createObjectNode()
                .put("request_id", engineRequestId)
                .put("do_remote_decode", true)
                .put("do_remote_prefill", false);
        ArrayNode blocks = callback.putArray("remote_block_ids");
        for (int block = 0; block < (prompt.tokens() + KV_BLOCK_SIZE - 1) / KV_BLOCK_SIZE; block++) {
            blocks.add(block);
        }
        callback.put("remote_block_size", KV_BLOCK_SIZE)
                .put("remote_engine_id", args.kvTransfer().get().engineId())
                .put("remote_host", advertisedHost)
                .put("remote_port", args.firstKvPort())
                .put("remote_tp_size", args.tensorParallelSize())
                .put("remote_pcp_size", 1)
                .put("remote_dcp_size", 1);
        HttpRequest request;
        try {
            request = HttpRequest.newBuilder(URI.create(metaserver)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(callback))).build();
        } catch (IllegalArgumentException | IOException e) {
            metrics.kvCallbackFailures.incrementAndGet();
            log.error("mooncake_layerwise_connector.py", "Bad metaserver URL " + metaserver + ": " + e.getMessage());
            return;
        }
        metrics.kvCallbacks.incrementAndGet();
        // The proxy answers only once the prefill is done, so this must not hold up the wait for the KV.
        callbackClient.sendAsync(request, HttpResponse.BodyHandlers.discarding()).whenComplete((response, error) -> {
            if (error != null || response.statusCode() >= 400) {
                metrics.kvCallbackFailures.incrementAndGet();
                log.error("mooncake_layerwise_connector.py", "Metaserver callback for " + engineRequestId + " to "
                        + metaserver + " failed: " + (error != null ? error : "HTTP " + response.statusCode()));
            }
        });
    }

    /** kv_producer with do_remote_decode: push this request's KV to the decoder that asked for it. */
    private boolean pushKv(HttpExchange exchange, JsonNode kvParams, String engineRequestId, Prompt prompt)
            throws IOException {
        if (args.kvTransfer().isEmpty() || !args.kvTransfer().get().producer() || args.kvTransfer().get().pull()
                || !kvParams.path("do_remote_decode").asBoolean(false)) {
            return true;
        }
        String host = kvParams.path("remote_host").asText("");
        int port = kvParams.path("remote_port").asInt(-1);
        try {
            if (host.isEmpty() || port < 1) {
                throw new IOException("kv_transfer_params lack remote_host/remote_port: " + kvParams);
            }
            KvSender.push(host, port, engineRequestId, args.kvTransfer().get().engineId(),
                    (long) prompt.tokens() * KV_BYTES_PER_TOKEN, (int) Math.min(Integer.MAX_VALUE, faults.kvTimeoutMillis()));
            metrics.kvPushesSent.incrementAndGet();
            log.info("mooncake_layerwise_connector.py", "Pushed KV of " + engineRequestId + " to " + host + ":" + port);
            return true;
        } catch (IOException e) {
            metrics.kvPushFailures.incrementAndGet();
            String message = "KV transfer of " + engineRequestId + " to " + host + ":" + port + " failed: " + e.getMessage();
            log.error("mooncake_layerwise_connector.py", message);
            sendError(exchange, 500, "InternalServerError", message);
            return false;
        }
    }

    /**
     * MooncakeConnectorV1's kv_producer with do_remote_decode: keep this request's KV for its decoder to pull and
     * say in the answer where (its request_finished: the blocks, this engine, its advertised host and side channel
     * port). Null for every other request.
     */
    private ObjectNode holdKv(JsonNode kvParams, String engineRequestId, Prompt prompt) {
        if (kvHandshake.isEmpty() || !kvParams.path("do_remote_decode").asBoolean(false)) {
            return null;
        }
        int blocks = (prompt.tokens() + KV_BLOCK_SIZE - 1) / KV_BLOCK_SIZE;
        kvHandshake.get().hold(engineRequestId, (long) prompt.tokens() * KV_BYTES_PER_TOKEN);
        ObjectNode params = JSON.createObjectNode().put("do_remote_prefill", true).put("do_remote_decode", false);
        ArrayNode group = params.putArray("remote_block_ids").addArray(); // one list per KV cache group
        for (int block = 0; block < blocks; block++) {
            group.add(block);
        }
        params.put("remote_engine_id", args.kvTransfer().get().engineId())
                .put("remote_request_id", engineRequestId)
                .put("remote_host", advertisedHost)
                .put("remote_port", kvHandshake.get().basePort())
                .put("remote_pcp_size", 1)
                .put("remote_dcp_size", 1)
                .put("remote_ptp_size", args.tensorParallelSize())
                .put("last_token_id", 0);
        params.putObject("remote_multi_nodes_meta_mapping");
        params.put("num_prompt_blocks", blocks).put("remote_block_size", KV_BLOCK_SIZE);
        log.info("mooncake_connector.py", "Delaying free of " + blocks + " blocks for request " + engineRequestId);
        return params;
    }

    /**
     * MooncakeConnectorV1's kv_consumer with do_remote_prefill: pull the KV from the prefiller the params name
     * (remote_host, remote_port + each of its remote_ptp_size ranks), before decoding. Params that lack what the
     * pull needs, a port nobody listens on, or a prefiller that holds no such KV fail the request (vLLM's
     * kv_load_failure_policy "fail", its default), or, with "recompute", the request is computed here instead.
     * False when the request failed (already answered).
     */
    private boolean pullKv(HttpExchange exchange, JsonNode kvParams, String engineRequestId) throws IOException {
        if (args.kvTransfer().isEmpty() || !args.kvTransfer().get().pull() || !args.kvTransfer().get().consumer()
                || !kvParams.path("do_remote_prefill").asBoolean(false)) {
            return true;
        }
        String host = kvParams.path("remote_host").asText("");
        int port = kvParams.path("remote_port").asInt(-1);
        try {
            List<String> missing = new java.util.ArrayList<>();
            JsonNode blocks = kvParams.path("remote_block_ids");
            if (!blocks.isArray() || blocks.isEmpty()) {
                missing.add("remote_block_ids");
            }
            for (String key : List.of("remote_engine_id", "remote_request_id", "remote_host")) {
                if (!kvParams.path(key).isTextual() || kvParams.path(key).asText().isEmpty()) {
                    missing.add(key);
                }
            }
            if (!kvParams.path("remote_port").canConvertToInt() || port < 1 || port > 65535) {
                missing.add("remote_port");
            }
            if (!missing.isEmpty()) {
                throw new IOException("Got invalid KVTransferParams (no usable " + String.join(", ", missing) + "): "
                        + kvParams);
            }
            int ranks = Math.max(1, kvParams.path("remote_ptp_size").asInt(1));
            long bytes = KvPull.pull(host, port, ranks, kvParams.get("remote_request_id").asText(),
                    kvParams.get("remote_engine_id").asText(), (int) Math.min(Integer.MAX_VALUE, faults.kvTimeoutMillis()));
            metrics.kvPulls.incrementAndGet();
            log.info("mooncake_connector.py", "Pulled KV of " + engineRequestId + " (" + bytes + " bytes) from "
                    + host + ":" + port + " (" + ranks + " ranks), engine " + kvParams.get("remote_engine_id").asText());
            return true;
        } catch (IOException e) {
            metrics.kvPullFailures.incrementAndGet();
            String message = "Failed to transfer KV cache for request " + engineRequestId + ": " + e.getMessage();
            log.error("mooncake_connector.py", message);
            if (args.kvTransfer().get().recomputeOnLoadFailure()) {
                log.warning("scheduler.py", "Recomputing the prefill of " + engineRequestId
                        + " locally (kv_load_failure_policy recompute)");
                return true;
            }
            sendError(exchange, 500, "InternalServerError", message);
            return false;
        }
    }

    private void answer(HttpExchange exchange, boolean chat, String id, String model, List<String> tokens,
            Prompt prompt, ObjectNode kvTransferParams) throws IOException {
        sleep((long) tokens.size() * faults.tokenDelayMillis());
        String text = String.join("", tokens);
        metrics.generationTokens.addAndGet(tokens.size());
        ObjectNode response = JSON.createObjectNode().put("id", id)
                .put("object", chat ? "chat.completion" : "text_completion").put("created", now()).put("model", model);
        ObjectNode choice = response.putArray("choices").addObject().put("index", 0);
        if (chat) {
            choice.putObject("message").put("role", "assistant").put("content", text);
        } else {
            choice.put("text", text);
        }
        choice.putNull("logprobs").put("finish_reason", "length").putNull("stop_reason");
        response.set("usage", usage(prompt.tokens(), tokens.size()));
        response.putNull("prompt_logprobs");
        // the layerwise connector hands nothing back in the answer; the pull connector's prefiller says where to pull
        if (kvTransferParams != null) {
            response.set("kv_transfer_params", kvTransferParams);
        } else {
            response.putNull("kv_transfer_params");
        }
        sendJson(exchange, 200, response);
    }

    private void stream(HttpExchange exchange, boolean chat, String id, String model, List<String> tokens,
            Prompt prompt, JsonNode body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        exchange.sendResponseHeaders(200, 0);
        OutputStream out = exchange.getResponseBody();
        long created = now();
        if (chat) {
            ObjectNode first = chunk(id, true, created, model);
            ((ObjectNode) first.withArray("choices").get(0)).putObject("delta").put("role", "assistant").put("content", "");
            event(out, first);
        }
        for (int i = 0; i < tokens.size(); i++) {
            sleep(faults.tokenDelayMillis());
            ObjectNode chunk = chunk(id, chat, created, model);
            ObjectNode choice = (ObjectNode) chunk.withArray("choices").get(0);
            if (chat) {
                choice.putObject("delta").put("content", tokens.get(i));
            } else {
                choice.put("text", tokens.get(i));
            }
            choice.putNull("logprobs");
            if (i == tokens.size() - 1) {
                choice.put("finish_reason", "length").putNull("stop_reason");
            } else {
                choice.putNull("finish_reason");
            }
            metrics.generationTokens.incrementAndGet();
            event(out, chunk);
        }
        if (body.path("stream_options").path("include_usage").asBoolean(false)) {
            ObjectNode usage = JSON.createObjectNode().put("id", id)
                    .put("object", chat ? "chat.completion.chunk" : "text_completion").put("created", created)
                    .put("model", model);
            usage.putArray("choices");
            usage.set("usage", usage(prompt.tokens(), tokens.size()));
            event(out, usage);
        }
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static ObjectNode chunk(String id, boolean chat, long created, String model) {
        ObjectNode chunk = JSON.createObjectNode().put("id", id)
                .put("object", chat ? "chat.completion.chunk" : "text_completion").put("created", created)
                .put("model", model);
        chunk.putArray("choices").addObject().put("index", 0);
        return chunk;
    }

    private static void event(OutputStream out, ObjectNode data) throws IOException {
        out.write(("data: " + JSON.writeValueAsString(data) + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static ObjectNode usage(int promptTokens, int completionTokens) {
        return JSON.createObjectNode().put("prompt_tokens", promptTokens).put("completion_tokens", completionTokens)
                .put("total_tokens", promptTokens + completionTokens);
    }

    private static void sendError(HttpExchange exchange, int status, String type, String message) throws IOException {
        ObjectNode error = JSON.createObjectNode();
        error.putObject("error").put("message", message).put("type", type).putNull("param").put("code", status);
        sendJson(exchange, status, error);
    }

    private static void sendJson(HttpExchange exchange, int status, JsonNode body) throws IOException {
        send(exchange, status, "application/json", JSON.writeValueAsString(body));
    }

    private static void send(HttpExchange exchange, int status, String contentType, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        if (contentType != null) {
            exchange.getResponseHeaders().set("Content-Type", contentType);
        }
        exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            exchange.getResponseBody().write(bytes);
        }
    }

    private static long now() {
        return System.currentTimeMillis() / 1000;
    }

    private static void sleep(long millis) {
        if (millis <= 0) {
            return;
        }
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
