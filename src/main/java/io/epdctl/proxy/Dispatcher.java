package io.epdctl.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.epdctl.topology.KvFlow;
import io.epdctl.topology.ProxyTuning;
import io.epdctl.topology.Role;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Routes a generation through the roles, as the vLLM-Ascend scripts do: an encoder first when the
 * request has an image or video (with --encoder-dispatch-mode fanout, one encoder request per item), then
 * a PD; or, with prefillers and decoders, by the KV flow: layerwise, a decoder that calls the metaserver back
 * for its prefill; pull, a prefiller whose answer tells a decoder where to pull the KV cache from. One per
 * event loop.
 */
final class Dispatcher {
    private final Context context;
    private final ProxyState state;
    private final BackendCaller backends;
    /** For the callbacks of requests of the proxy this one took over from. */
    private final io.vertx.core.http.HttpClient client;

    Dispatcher(Context context, ProxyState state, BackendCaller backends, io.vertx.core.http.HttpClient client) {
        this.context = context;
        this.state = state;
        this.backends = backends;
        this.client = client;
    }

    /** {@code /v1/chat/completions} and {@code /v1/completions}. */
    void completions(HttpServerRequest request) {
        ProxyExchange exchange = exchange(request);
        request.body().onFailure(exchange::fail).onSuccess(raw -> {
            ObjectNode body;
            try {
                body = jsonObject(raw);
            } catch (ProxyFailure badBody) {
                exchange.fail(badBody);
                return;
            }
            exchange.body(body);
            BackendPool encoders = state.pool(Role.ENCODER);
            boolean encode = encoders.routed() && RequestBodies.hasMultimodalInput(body);
            // a role the request needs with no usable backend: 503 now, before any backend holds part of it
            ProxyFailure unavailable = Availability.unavailable(encode ? encoders : null,
                    state.config().backends().disaggregated()
                            ? List.of(state.pool(Role.PREFILL), state.pool(Role.DECODE))
                            : List.of(state.pool(Role.PD)), state.retryAfterSeconds());
            if (unavailable != null) {
                exchange.fail(unavailable);
                return;
            }
            Future<Void> encoded = encode ? encode(exchange, encoders, body) : Future.succeededFuture();
            encoded.onFailure(exchange::fail).onSuccess(ignored -> {
                if (state.config().backends().disaggregated() && state.config().kvFlow() == KvFlow.PULL) {
                    prefillThenDecode(exchange, body);
                } else if (state.config().backends().disaggregated()) {
                    decode(exchange, body);
                } else {
                    // unchanged, so the client's bytes go as they came
                    relay(exchange, state.pool(Role.PD), HttpMethod.POST, raw);
                }
            });
        });
    }

    /**
     * The encoder step. Single: the whole request, one token, to one encoder. Fan-out (with two items or more):
     * one request per image or video, all at once, each to the least-loaded usable encoder at the time it is
     * sent (each call counts as in flight from then on, so they spread), each with its own X-Request-Id
     * ({@code ID:N}); done when all have answered. Each call retries on its own; the first that fails for
     * good fails the request (the proxy's own verdict names the item and the encoder; an encoder's error
     * answer goes to the client as it came), and the request's end cancels the others.
     */
    private Future<Void> encode(ProxyExchange exchange, BackendPool encoders, ObjectNode body) {
        List<ObjectNode> items = state.config().tuning().encoderDispatch() == ProxyTuning.EncoderDispatch.FANOUT
                ? RequestBodies.oneItemEach(body) : List.of();
        if (items.size() < 2) {
            return backends.callForBody(exchange, encoders, ProxyJson.buffer(RequestBodies.oneToken(body))).mapEmpty();
        }
        List<Future<Buffer>> calls = new ArrayList<>(items.size());
        for (int i = 0; i < items.size(); i++) {
            ObjectNode request = items.get(i);
            String item = "item " + (i + 1) + " of " + items.size() + " ("
                    + request.path("messages").path(0).path("content").path(0).path("type").asText() + ")";
            calls.add(backends.callForBody(exchange, encoders, ProxyJson.buffer(request), false, exchange.id() + ":" + i)
                    .recover(failure -> Future.failedFuture(failure instanceof ProxyFailure known ? known.about(item)
                            : ProxyFailure.of(502, item + ": " + failure.getMessage()))));
        }
        return Future.all(calls).mapEmpty();
    }

    /** E+P+D: the decoder gets the request with where to ask for its KV cache (the metaserver). */
    private void decode(ProxyExchange exchange, ObjectNode body) {
        ObjectNode toDecoder = body.deepCopy();
        ObjectNode params = toDecoder.putObject("kv_transfer_params");
        params.put("do_remote_decode", false);
        params.put("do_remote_prefill", true);
        params.put("metaserver", state.metaserverUrl());
        exchange.awaitPrefill(state.awaitingPrefill());
        relay(exchange, state.pool(Role.DECODE), HttpMethod.POST, ProxyJson.buffer(toDecoder));
    }

    /**
     * E+P+D or P+D in pull mode (MooncakeConnectorV1), as vLLM-Ascend's load-balance proxy does it: the request
     * to a prefiller as one token, unstreamed, with {@code do_remote_decode: true} and the remote fields null;
     * then the original request to a decoder with the {@code kv_transfer_params} of the prefiller's answer (its
     * host, handshake port, engine and blocks), from which the decoder pulls the KV cache. A prefiller that fails
     * fails the request with its status; an answer without {@code kv_transfer_params} (a prefiller that is no
     * pull-mode producer) does too, rather than letting the decoder compute the prefill again unseen.
     */
    private void prefillThenDecode(ProxyExchange exchange, ObjectNode body) {
        backends.callForBody(exchange, state.pool(Role.PREFILL), ProxyJson.buffer(RequestBodies.pullPrefill(body))).onFailure(exchange::fail)
                .onSuccess(answer -> {
                    JsonNode kvTransferParams;
                    try {
                        kvTransferParams = ProxyJson.MAPPER.readTree(answer.getBytes()).path("kv_transfer_params");
                    } catch (IOException e) {
                        exchange.fail(ProxyFailure.of(502, "the prefiller's answer is not JSON: " + e.getMessage()));
                        return;
                    }
                    if (!(kvTransferParams instanceof ObjectNode kv) || kv.isEmpty()) {
                        exchange.fail(ProxyFailure.of(502, "the prefiller's answer carries no kv_transfer_params"
                                + " (is it a kv_producer of MooncakeConnectorV1?); the decoder would have nothing"
                                + " to pull"));
                        return;
                    }
                    ObjectNode toDecoder = body.deepCopy();
                    toDecoder.set("kv_transfer_params", kv);
                    relay(exchange, state.pool(Role.DECODE), HttpMethod.POST, ProxyJson.buffer(toDecoder));
                });
    }

    /** The decoder asks for the KV cache of a request: have a prefiller compute it and push it there. */
    void metaserver(HttpServerRequest request) {
        request.body().onSuccess(raw -> {
            JsonNode params;
            try {
                params = ProxyJson.MAPPER.readTree(raw.getBytes());
            } catch (IOException e) {
                params = null;
            }
            String backendRequestId = params == null ? null : params.path("request_id").asText(null);
            ProxyExchange exchange = state.awaitingPrefill().claim(RequestBodies.proxyRequestId(backendRequestId));
            ControlFile predecessor = state.predecessor();
            if (exchange == null && params instanceof ObjectNode && predecessor != null) {
                forward(predecessor, raw, request.response());
                return;
            }
            if (exchange == null || !(params instanceof ObjectNode kvTransferParams)) {
                request.response().setStatusCode(404).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                        .end(ProxyJson.error(404, "no request is waiting for a prefill under request_id "
                                + backendRequestId));
                return;
            }
            exchange.context().runOnContext(ignored -> prefill(exchange, kvTransferParams, request.response()));
        });
    }

    /**
     * A callback for a request this proxy does not know may be one of the proxy it took over from, which
     * still drains on this host: its decoders call the port, which is now this proxy's. That proxy's
     * control channel takes the callback and answers it as its own metaserver would.
     */
    private void forward(ControlFile predecessor, Buffer raw, HttpServerResponse metaserverResponse) {
        client.request(new io.vertx.core.http.RequestOptions().setMethod(HttpMethod.POST).setHost(ControlServer.LOOPBACK)
                        .setPort(predecessor.port()).setURI(ControlServer.METASERVER)
                        .putHeader(HttpHeaders.AUTHORIZATION, "Bearer " + predecessor.token())
                        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json"))
                .compose(call -> call.send(raw))
                .compose(answer -> answer.body().map(body -> {
                    String type = answer.getHeader(HttpHeaders.CONTENT_TYPE);
                    metaserverResponse.setStatusCode(answer.statusCode())
                            .putHeader(HttpHeaders.CONTENT_TYPE, type != null ? type : "application/json").end(body);
                    return body;
                }))
                .onFailure(failure -> {
                    if (!metaserverResponse.ended()) {
                        metaserverResponse.setStatusCode(404).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                                .end(ProxyJson.error(404, "no request is waiting for a prefill under this request_id"
                                        + " (the proxy this one took over from is gone: " + failure.getMessage() + ")"));
                    }
                });
    }

    private void prefill(ProxyExchange exchange, ObjectNode kvTransferParams, HttpServerResponse metaserverResponse) {
        if (exchange.done()) {
            metaserverResponse.setStatusCode(409).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(ProxyJson.error(409, "request " + exchange.id() + " has ended"));
            return;
        }
        ObjectNode toPrefiller = RequestBodies.oneToken(exchange.body());
        toPrefiller.set("kv_transfer_params", kvTransferParams);
        // the prefill's time is the prefiller's to account for, not the waiting decoder's
        exchange.holdSilenceWatches();
        // a prefiller being drained still serves the requests admitted before: the decoder waits for this KV
        backends.callForBody(exchange, state.pool(Role.PREFILL), ProxyJson.buffer(toPrefiller), true)
                .onSuccess(body -> {
                    exchange.resumeSilenceWatches();
                    metaserverResponse.putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(body);
                })
                .onFailure(failure -> {
                    int status = failure instanceof ProxyFailure known ? known.status() : 502;
                    metaserverResponse.setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                            .end(ProxyJson.error(status, "prefill failed: " + failure.getMessage()));
                    // the decoder would wait for KV that never comes: the client hears of it now
                    exchange.fail(failure);
                });
    }

    /** {@code GET /v1/models}: the model list of the first healthy generating backend (every node serves the same model). */
    void models(HttpServerRequest request) {
        ProxyExchange exchange = exchange(request);
        BackendPool pool = state.pools().stream()
                .filter(candidate -> candidate.role() != Role.ENCODER && candidate.anyUsable())
                .findFirst().orElse(state.pool(state.config().backends().disaggregated() ? Role.DECODE : Role.PD));
        relay(exchange, pool, HttpMethod.GET, null);
    }

    private ProxyExchange exchange(HttpServerRequest request) {
        return new ProxyExchange(request, context, state.metrics(), state::log);
    }

    private void relay(ProxyExchange exchange, BackendPool pool, HttpMethod method, Buffer body) {
        backends.call(exchange, pool, method, body).onFailure(exchange::fail)
                .onSuccess(call -> Relay.answer(exchange, call));
    }

    /** The request body as a JSON object; a 400 saying what is wrong otherwise. */
    private static ObjectNode jsonObject(Buffer raw) {
        JsonNode parsed;
        try {
            parsed = ProxyJson.MAPPER.readTree(raw.getBytes());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw ProxyFailure.of(400, "the request body is not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ProxyFailure.of(400, "the request body cannot be read: " + e.getMessage());
        }
        if (!(parsed instanceof ObjectNode body)) {
            throw ProxyFailure.of(400, "the request body must be a JSON object");
        }
        return body;
    }
}
