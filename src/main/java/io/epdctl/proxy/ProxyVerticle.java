package io.epdctl.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.epdctl.topology.Role;
import io.vertx.core.AbstractVerticle;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.io.IOException;
import java.net.ConnectException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** The proxy's HTTP server on one event loop, with its own pooled client to the backends. */
final class ProxyVerticle extends AbstractVerticle {
    /** Headers that describe one hop's connection, not the message, so they are not relayed. */
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "transfer-encoding", "te",
            "trailer", "upgrade", "proxy-authenticate", "proxy-authorization", "x-request-id");

    private final ProxyState state;
    private final int port;
    private final String apiKey = System.getenv("OPENAI_API_KEY");
    private HttpClient client;
    private int actualPort;

    ProxyVerticle(ProxyState state, int port) {
        this.state = state;
        this.port = port;
    }

    int actualPort() {
        return actualPort;
    }

    @Override
    public void start(Promise<Void> started) {
        // idle connections are dropped before uvicorn's 5 s keep-alive timeout drops them under a request
        client = vertx.createHttpClient(new HttpClientOptions().setConnectTimeout(5_000).setKeepAlive(true)
                .setKeepAliveTimeout(3).setTcpNoDelay(true), new PoolOptions().setHttp1MaxSize(4096));
        // each request reports its backend's failures itself
        client.connectionHandler(connection -> connection.exceptionHandler(ignored -> { }));
        vertx.createHttpServer(new HttpServerOptions().setHost(state.config().listen().host()).setPort(port)
                        .setTcpNoDelay(true))
                .requestHandler(this::route)
                // a client that resets its connection is a cancelled request, handled there, not news for the log
                .connectionHandler(connection -> connection.exceptionHandler(ignored -> { }))
                .listen()
                .onSuccess(server -> {
                    actualPort = server.actualPort();
                    started.complete();
                })
                .onFailure(started::fail);
    }

    private void route(HttpServerRequest request) {
        String path = request.path();
        HttpMethod method = request.method();
        if (method == HttpMethod.POST && (path.equals("/v1/chat/completions") || path.equals("/v1/completions"))) {
            completions(request);
        } else if (method == HttpMethod.POST && path.equals("/v1/metaserver")) {
            metaserver(request);
        } else if (method == HttpMethod.GET && path.equals("/health")) {
            health(request, false);
        } else if (method == HttpMethod.GET && path.equals("/healthcheck")) {
            health(request, true);
        } else if (method == HttpMethod.GET && path.equals("/v1/models")) {
            models(request);
        } else if (method == HttpMethod.GET && path.equals("/metrics")) {
            request.response().putHeader(HttpHeaders.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
                    .end(state.metrics().prometheusText(state.pools(), state.awaitingPrefill().size()));
        } else if (method == HttpMethod.POST && (path.equals("/start_profile") || path.equals("/stop_profile"))) {
            profile(request);
        } else {
            request.response().setStatusCode(404).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(ProxyExchange.errorJson(404, "no route " + method + " " + path));
        }
    }

    // ---- generation: E, then PD or D (with P called back through the metaserver)

    private void completions(HttpServerRequest request) {
        ProxyExchange exchange = new ProxyExchange(request.path(), request, context, state);
        request.body().onFailure(exchange::fail).onSuccess(raw -> {
            JsonNode parsed;
            try {
                parsed = ProxyState.JSON.readTree(raw.getBytes());
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                exchange.fail(ProxyFailure.of(400, "the request body is not JSON: " + e.getOriginalMessage()));
                return;
            } catch (IOException e) {
                exchange.fail(ProxyFailure.of(400, "the request body cannot be read: " + e.getMessage()));
                return;
            }
            if (!(parsed instanceof ObjectNode body)) {
                exchange.fail(ProxyFailure.of(400, "the request body must be a JSON object"));
                return;
            }
            exchange.body(body);
            BackendPool encoders = state.pool(Role.ENCODER);
            Future<Void> encoded = !encoders.isEmpty() && RequestBodies.hasMultimodalInput(body)
                    ? callForBody(exchange, encoders, HttpMethod.POST, json(RequestBodies.oneToken(body))).mapEmpty()
                    : Future.succeededFuture();
            encoded.onFailure(exchange::fail).onSuccess(ignored -> {
                if (state.config().disaggregated()) {
                    ObjectNode toDecoder = body.deepCopy();
                    ObjectNode params = toDecoder.putObject("kv_transfer_params");
                    params.put("do_remote_decode", false);
                    params.put("do_remote_prefill", true);
                    params.put("metaserver", state.metaserverUrl());
                    exchange.awaitPrefill();
                    call(exchange, state.pool(Role.DECODE), HttpMethod.POST, json(toDecoder))
                            .onFailure(exchange::fail).onSuccess(call -> relay(exchange, call));
                } else {
                    // unchanged, so the client's bytes go as they came
                    call(exchange, state.pool(Role.PD), HttpMethod.POST, raw)
                            .onFailure(exchange::fail).onSuccess(call -> relay(exchange, call));
                }
            });
        });
    }

    /** The decoder asks for the KV cache of a request: have a prefiller compute it and push it there. */
    private void metaserver(HttpServerRequest request) {
        request.body().onSuccess(raw -> {
            JsonNode params;
            try {
                params = ProxyState.JSON.readTree(raw.getBytes());
            } catch (IOException e) {
                params = null;
            }
            String backendRequestId = params == null ? null : params.path("request_id").asText(null);
            String id = RequestBodies.proxyRequestId(backendRequestId);
            ProxyExchange exchange = id == null ? null : state.awaitingPrefill().remove(id);
            if (exchange == null || !(params instanceof ObjectNode kvTransferParams)) {
                request.response().setStatusCode(404).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                        .end(ProxyExchange.errorJson(404, "no request is waiting for a prefill under request_id "
                                + backendRequestId));
                return;
            }
            exchange.context().runOnContext(ignored -> prefill(exchange, kvTransferParams, request.response()));
        });
    }

    private void prefill(ProxyExchange exchange, ObjectNode kvTransferParams, HttpServerResponse metaserverResponse) {
        if (exchange.done()) {
            metaserverResponse.setStatusCode(409).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(ProxyExchange.errorJson(409, "request " + exchange.id() + " has ended"));
            return;
        }
        ObjectNode toPrefiller = RequestBodies.oneToken(exchange.body());
        toPrefiller.set("kv_transfer_params", kvTransferParams);
        // the prefill's time is the prefiller's to account for, not the waiting decoder's
        exchange.holdSilenceWatches();
        callForBody(exchange, state.pool(Role.PREFILL), HttpMethod.POST, json(toPrefiller))
                .onSuccess(body -> {
                    exchange.resumeSilenceWatches();
                    metaserverResponse.putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(body);
                })
                .onFailure(failure -> {
                    int status = failure instanceof ProxyFailure known ? known.status() : 502;
                    metaserverResponse.setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                            .end(ProxyExchange.errorJson(status, "prefill failed: " + failure.getMessage()));
                    // the decoder would wait for KV that never comes: the client hears of it now
                    exchange.fail(failure);
                });
    }

    // ---- calls to backends

    /**
     * Sends to the least-loaded healthy backend of the pool. A backend that cannot be reached is marked
     * down and the next healthy one is tried, up to --max-retries attempts; a connection closed before
     * any answer may be retried on the same backend. Once a backend has answered (whatever the status),
     * there is no retry.
     */
    private Future<BackendCall> call(ProxyExchange exchange, BackendPool pool, HttpMethod method, Buffer body) {
        Promise<BackendCall> promise = Promise.promise();
        attempt(exchange, pool, method, body, 1, new HashSet<>(), null, promise);
        return promise.future();
    }

    private void attempt(ProxyExchange exchange, BackendPool pool, HttpMethod method, Buffer body, int attempt,
            Set<Backend> tried, String lastProblem, Promise<BackendCall> promise) {
        if (exchange.done()) {
            promise.fail(ProxyFailure.of(499, "the client went away"));
            return;
        }
        Backend backend = pool.pick(tried);
        if (backend == null) {
            promise.fail(lastProblem != null ? ProxyFailure.of(502, lastProblem)
                    : ProxyFailure.of(503, "no healthy " + pool.role().yamlName() + " backend: " + downList(pool)));
            return;
        }
        tried.add(backend);
        BackendCall call = exchange.open(backend);
        RequestOptions options = new RequestOptions().setMethod(method)
                .setHost(backend.endpoint().host()).setPort(backend.endpoint().port())
                .setURI(exchange.path())
                .putHeader("X-Request-Id", exchange.id());
        if (body != null) {
            options.putHeader(HttpHeaders.CONTENT_TYPE, "application/json");
        }
        String authorization = authorization(exchange);
        if (authorization != null) {
            options.putHeader(HttpHeaders.AUTHORIZATION, authorization);
        }
        client.request(options)
                .compose(request -> {
                    call.sent(request);
                    // a silent backend has the request and may still be working on it: no retry elsewhere
                    call.watchForSilence(vertx, state.config().backendTimeout(), promise::tryFail);
                    return body == null ? request.send() : request.send(body);
                })
                .onSuccess(response -> {
                    response.pause();
                    call.answered(response);
                    promise.tryComplete(call); // false only if the silence watch ended the call first
                })
                .onFailure(failure -> {
                    call.finish(true);
                    if (promise.future().isComplete()) {
                        return; // the silence watch failed it and dropped the connection
                    }
                    if (exchange.done()) {
                        promise.fail(ProxyFailure.of(499, "the client went away"));
                        return;
                    }
                    String problem = backend + " failed before answering: " + failure.getMessage();
                    if (failure instanceof ConnectException) {
                        state.markDown(backend, failure.getMessage());
                    } else {
                        // a pooled connection the backend had just closed: the backend is fine, a new
                        // connection to it may serve the retry
                        tried.remove(backend);
                    }
                    if (attempt >= state.config().maxRetries()) {
                        promise.fail(ProxyFailure.of(502, problem));
                        return;
                    }
                    long delay = state.config().retryDelay().toMillis() << (attempt - 1);
                    Runnable retry = () -> attempt(exchange, pool, method, body, attempt + 1, tried, problem, promise);
                    if (delay <= 0) {
                        retry.run();
                    } else {
                        vertx.setTimer(delay, id -> retry.run());
                    }
                });
    }

    /** A call whose whole answer is needed before going on (encoder, prefiller); an error status fails it. */
    private Future<Buffer> callForBody(ProxyExchange exchange, BackendPool pool, HttpMethod method, Buffer body) {
        return call(exchange, pool, method, body).compose(call -> {
            HttpClientResponse response = call.response();
            Promise<Buffer> answer = Promise.promise();
            response.body().onComplete(whole -> {
                if (whole.succeeded()) {
                    answer.tryComplete(whole.result());
                } else {
                    answer.tryFail(ProxyFailure.of(502, call.backend() + " broke off its answer: " + whole.cause().getMessage()));
                }
            });
            call.reportSilenceTo(answer::tryFail);
            response.resume();
            return answer.future().transform(result -> {
                int status = response.statusCode();
                call.finish(result.failed() || status >= 400);
                if (result.failed()) {
                    return Future.failedFuture(result.cause());
                }
                if (status >= 400) {
                    return Future.failedFuture(ProxyFailure.backendAnswer(call.backend(), status,
                            response.getHeader(HttpHeaders.CONTENT_TYPE), result.result()));
                }
                return Future.succeededFuture(result.result());
            });
        });
    }

    /** Streams a backend's answer to the client chunk by chunk, status and body as they come. */
    private void relay(ProxyExchange exchange, BackendCall call) {
        HttpClientResponse in = call.response();
        HttpServerResponse out = exchange.response();
        if (exchange.done()) {
            call.cancel();
            return;
        }
        boolean errorStatus = in.statusCode() >= 400;
        out.setStatusCode(in.statusCode());
        copyHeaders(in.headers(), out.headers());
        if (!out.headers().contains(HttpHeaders.CONTENT_LENGTH)) {
            out.setChunked(true);
        }
        in.handler(chunk -> {
            if (exchange.done()) {
                return;
            }
            call.chunk();
            out.write(chunk);
            if (out.writeQueueFull()) {
                // a slow client, not a silent backend: no silence is counted until it has caught up
                call.hold();
                in.pause();
                out.drainHandler(drained -> {
                    call.resume();
                    in.resume();
                });
            }
        });
        in.endHandler(ended -> {
            call.finish(errorStatus);
            exchange.succeeded();
        });
        in.exceptionHandler(failure -> {
            call.finish(true);
            exchange.fail(ProxyFailure.of(502, call.backend() + " broke off its answer: " + failure.getMessage()));
        });
        call.reportSilenceTo(exchange::fail);
        in.resume();
    }

    /** The client's credentials, else the key the proxy was started with (as the script does). */
    private String authorization(ProxyExchange exchange) {
        String fromClient = exchange.clientAuthorization();
        return fromClient != null ? fromClient : apiKey == null ? null : "Bearer " + apiKey;
    }

    private static void copyHeaders(MultiMap from, MultiMap to) {
        for (Map.Entry<String, String> header : from) {
            if (!HOP_BY_HOP.contains(header.getKey().toLowerCase(Locale.ROOT))) {
                to.add(header.getKey(), header.getValue());
            }
        }
    }

    private static String downList(BackendPool pool) {
        List<String> down = new ArrayList<>();
        for (Backend backend : pool.backends()) {
            down.add(backend.endpoint() + " (" + backend.healthProblem() + ")");
        }
        return String.join(", ", down);
    }

    private static Buffer json(ObjectNode body) {
        return ProxyExchange.json(body);
    }

    // ---- health, models, profiling

    /** 200 when every role has a healthy backend, else 503 naming the backends that are down. */
    private void health(HttpServerRequest request, boolean scriptFormat) {
        Map<String, Object> answer = new LinkedHashMap<>();
        boolean healthy = true;
        List<String> down = new ArrayList<>();
        Map<String, Object> roles = new LinkedHashMap<>();
        for (BackendPool pool : state.pools()) {
            healthy &= pool.anyHealthy();
            long up = pool.backends().stream().filter(Backend::healthy).count();
            roles.put(pool.role().yamlName(), Map.of("healthy", up, "total", pool.backends().size()));
            pool.backends().stream().filter(backend -> !backend.healthy())
                    .forEach(backend -> down.add(backend + ": " + backend.healthProblem()));
        }
        answer.put("status", healthy ? "ok" : "unhealthy");
        if (scriptFormat) {
            // the fields of the vLLM-Ascend script's /healthcheck, whose status was always "ok"
            answer.put("encode_instances", state.pool(Role.ENCODER).backends().size());
            answer.put("prefill_instances", state.pool(Role.PREFILL).backends().size());
            answer.put("decode_instances", state.pool(Role.DECODE).backends().size());
            answer.put("pd_instances", state.pool(Role.PD).backends().size());
        }
        answer.put("roles", roles);
        answer.put("down", down);
        request.response().setStatusCode(healthy ? 200 : 503)
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(ProxyExchange.json(answer));
    }

    /** The model list of the first healthy generating backend (every node serves the same model). */
    private void models(HttpServerRequest request) {
        ProxyExchange exchange = new ProxyExchange(request.path(), request, context, state);
        BackendPool pool = state.pools().stream()
                .filter(candidate -> candidate.role() != Role.ENCODER && candidate.anyHealthy())
                .findFirst().orElse(state.config().disaggregated() ? state.pool(Role.DECODE) : state.pool(Role.PD));
        call(exchange, pool, HttpMethod.GET, null).onFailure(exchange::fail).onSuccess(call -> relay(exchange, call));
    }

    /** Like the script: forwards /start_profile or /stop_profile to every backend and reports each answer. */
    private void profile(HttpServerRequest request) {
        request.body().onSuccess(raw -> {
            Map<String, Future<Map<String, Object>>> answers = new LinkedHashMap<>();
            for (BackendPool pool : state.pools()) {
                for (Backend backend : pool.backends()) {
                    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST)
                            .setHost(backend.endpoint().host()).setPort(backend.endpoint().port())
                            .setURI(request.path()).setTimeout(10_000)
                            .putHeader(HttpHeaders.CONTENT_TYPE, "application/json");
                    Future<Map<String, Object>> answer = client.request(options)
                            .compose(backendRequest -> backendRequest.send(raw.length() == 0 ? Buffer.buffer("{}") : raw))
                            .compose(response -> response.body().map(body -> Map.<String, Object>of(
                                    "status_code", response.statusCode(), "body", body.toString())))
                            .otherwise(failure -> Map.of("error", String.valueOf(failure.getMessage())));
                    answers.put(backend.toString(), answer);
                }
            }
            Future.join(new ArrayList<>(answers.values())).onComplete(all -> {
                Map<String, Object> results = new LinkedHashMap<>();
                answers.forEach((backend, answer) -> results.put(backend, answer.result()));
                request.response().putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                        .end(ProxyExchange.json(Map.of("status", "done", "results", results)));
            });
        });
    }
}
