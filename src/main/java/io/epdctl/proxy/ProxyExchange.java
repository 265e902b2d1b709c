package io.epdctl.proxy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * One client request and everything it holds: its backend calls and, in E+P+D, its entry among the
 * requests awaiting a prefill. {@link #finish} frees all of it, whichever way the request ends.
 * Used only on the event loop ({@link #context()}) the client request arrived on.
 */
final class ProxyExchange {
    private final String id = UUID.randomUUID().toString();
    private final String route;
    private final HttpServerRequest request;
    private final Context context;
    private final ProxyState state;
    private final Set<BackendCall> openCalls = new HashSet<>();
    private ObjectNode body;
    private boolean done;

    ProxyExchange(String route, HttpServerRequest request, Context context, ProxyState state) {
        this.route = route;
        this.request = request;
        this.context = context;
        this.state = state;
        state.metrics().started(route);
        request.response().closeHandler(closed -> cancel());
        request.response().putHeader("X-Request-Id", id);
    }

    /** Sent to every backend as X-Request-Id. */
    String id() {
        return id;
    }

    /** The backend path: the client's, e.g. /v1/chat/completions. */
    String path() {
        return request.path();
    }

    String clientAuthorization() {
        return request.getHeader(HttpHeaders.AUTHORIZATION);
    }

    Context context() {
        return context;
    }

    HttpServerResponse response() {
        return request.response();
    }

    ObjectNode body() {
        return body;
    }

    void body(ObjectNode body) {
        this.body = body;
    }

    boolean done() {
        return done;
    }

    BackendCall open(Backend backend) {
        BackendCall call = new BackendCall(backend, this);
        openCalls.add(call);
        return call;
    }

    void closed(BackendCall call) {
        openCalls.remove(call);
    }

    /** The decoder, the call open while a prefill runs, sends nothing until its KV cache has come. */
    void holdSilenceWatches() {
        openCalls.forEach(BackendCall::hold);
    }

    void resumeSilenceWatches() {
        openCalls.forEach(BackendCall::resume);
    }

    void awaitPrefill() {
        state.awaitingPrefill().put(id, this);
    }

    /** Ends the request after the whole answer was relayed. */
    void succeeded() {
        if (!done) {
            finish(false);
            response().end();
        }
    }

    /**
     * Tells the client: with the response not started, as the failure's status and body; once it has
     * started, by an error event (server-sent events) and a dropped connection, so that a cut answer is
     * never taken for a complete one.
     */
    void fail(Throwable cause) {
        if (done) {
            return;
        }
        ProxyFailure failure = cause instanceof ProxyFailure known ? known
                : ProxyFailure.of(502, "proxy error: " + cause.getMessage());
        HttpServerResponse response = response();
        finish(true);
        if (!response.headWritten()) {
            response.headers().remove(HttpHeaders.CONTENT_LENGTH);
            response.setChunked(false);
            response.setStatusCode(failure.status());
            if (failure.body() != null) {
                if (failure.contentType() != null) {
                    response.putHeader(HttpHeaders.CONTENT_TYPE, failure.contentType());
                }
                response.end(failure.body());
            } else {
                response.putHeader(HttpHeaders.CONTENT_TYPE, "application/json");
                response.end(errorJson(failure.status(), failure.getMessage()));
            }
        } else {
            state.log("request " + id + " broke after its response started: " + failure.getMessage());
            String contentType = response.headers().get(HttpHeaders.CONTENT_TYPE);
            if (contentType != null && contentType.startsWith("text/event-stream")) {
                response.write("data: " + errorJson(failure.status(), failure.getMessage()) + "\n\n");
            }
            request.connection().close();
        }
    }

    /** The client went away: abort every backend request. */
    void cancel() {
        finish(true);
    }

    /** Frees everything the request holds; the first call counts, whichever path ends the request. */
    private void finish(boolean failed) {
        if (done) {
            return;
        }
        done = true;
        state.awaitingPrefill().remove(id, this);
        if (failed) {
            cancelCalls();
        }
        // else only a prefill call may still be open: its KV has reached the decoder, which has answered
        // in full; its own answer is on the way and ends the call.
        state.metrics().ended(route, failed || response().getStatusCode() >= 400);
    }

    private void cancelCalls() {
        for (BackendCall call : List.copyOf(openCalls)) {
            call.cancel();
        }
    }

    /** An OpenAI-style error body. */
    static String errorJson(int status, String message) {
        try {
            Map<String, Object> error = new LinkedHashMap<>();
            error.put("message", message);
            error.put("type", status >= 500 ? "upstream_error" : "invalid_request_error");
            error.put("code", status);
            return ProxyState.JSON.writeValueAsString(Map.of("error", error));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("a map of strings and numbers always converts to JSON", e);
        }
    }

    static Buffer json(Object value) {
        try {
            return Buffer.buffer(ProxyState.JSON.writeValueAsBytes(value));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("not convertible to JSON: " + value, e);
        }
    }
}
