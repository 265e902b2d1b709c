package io.epdctl.proxy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * One client request and everything it holds: its backend calls and, in E+P+D, its entry among the
 * requests awaiting a prefill. {@link #finish} frees all of it, whichever way the request ends.
 * Used only on the event loop ({@link #context()}) the client request arrived on.
 */
final class ProxyExchange {
    private final String id = UUID.randomUUID().toString();
    private final HttpServerRequest request;
    private final Context context;
    private final ProxyMetrics metrics;
    private final Consumer<String> log;
    private final Set<BackendCall> openCalls = new HashSet<>();
    /** Where it waits for its decoder's metaserver call, once it does (E+P+D). */
    private AwaitingPrefill<ProxyExchange> awaiting;
    private ObjectNode body;
    private boolean done;

    /** A client request, counted in {@code metrics} by its path. */
    ProxyExchange(HttpServerRequest request, Context context, ProxyMetrics metrics, Consumer<String> log) {
        this.request = request;
        this.context = context;
        this.metrics = metrics;
        this.log = log;
        metrics.started(request.path());
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

    /** A call to {@code backend} on behalf of this request; it is cancelled if the request ends first. */
    BackendCall open(Backend backend) {
        BackendCall call = new BackendCall(backend, openCalls::remove);
        openCalls.add(call);
        return call;
    }

    /** The decoder, the call open while a prefill runs, sends nothing until its KV cache has come. */
    void holdSilenceWatches() {
        openCalls.forEach(BackendCall::hold);
    }

    void resumeSilenceWatches() {
        openCalls.forEach(BackendCall::resume);
    }

    /** Waits in {@code registry} for its decoder's metaserver call, until claimed there or ended. */
    void awaitPrefill(AwaitingPrefill<ProxyExchange> registry) {
        awaiting = registry;
        registry.register(id, this);
    }

    /** Ends the request after the whole answer was relayed; complete once the end is written to the client. */
    Future<Void> succeeded() {
        if (done) {
            return Future.succeededFuture();
        }
        finish(false);
        return response().end();
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
            if (failure.retryAfterSeconds() > 0) {
                response.putHeader(HttpHeaders.RETRY_AFTER, String.valueOf(failure.retryAfterSeconds()));
            }
            if (failure.body() != null) {
                if (failure.contentType() != null) {
                    response.putHeader(HttpHeaders.CONTENT_TYPE, failure.contentType());
                }
                response.end(failure.body());
            } else {
                response.putHeader(HttpHeaders.CONTENT_TYPE, "application/json");
                response.end(ProxyJson.error(failure.status(), failure.getMessage()));
            }
        } else {
            log.accept("request " + id + " broke after its response started: " + failure.getMessage());
            String contentType = response.headers().get(HttpHeaders.CONTENT_TYPE);
            if (contentType != null && contentType.startsWith("text/event-stream")) {
                response.write("data: " + ProxyJson.error(failure.status(), failure.getMessage()) + "\n\n");
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
        if (awaiting != null) {
            awaiting.forget(id, this);
        }
        if (failed) {
            cancelCalls();
        }
        // else only a prefill call may still be open: its KV has reached the decoder, which has answered
        // in full; its own answer is on the way and ends the call.
        metrics.ended(request.path(), failed || response().getStatusCode() >= 400);
    }

    private void cancelCalls() {
        for (BackendCall call : List.copyOf(openCalls)) {
            call.cancel();
        }
    }
}
