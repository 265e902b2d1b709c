package io.epdctl.proxy;

import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;

/** One request of a client request to one backend (one attempt); its counters end exactly once. */
final class BackendCall {
    private final Backend backend;
    private final ProxyExchange exchange;
    private final long startNanos = System.nanoTime();
    private HttpClientRequest request;
    private HttpClientResponse response;
    private boolean finished;

    BackendCall(Backend backend, ProxyExchange exchange) {
        this.backend = backend;
        this.exchange = exchange;
        backend.started();
    }

    Backend backend() {
        return backend;
    }

    HttpClientResponse response() {
        return response;
    }

    void sent(HttpClientRequest request) {
        this.request = request;
    }

    void answered(HttpClientResponse response) {
        this.response = response;
    }

    void finish(boolean failed) {
        if (!finished) {
            finished = true;
            backend.finished(startNanos, failed);
            exchange.closed(this);
        }
    }

    /** Drops the backend's connection, which is how vLLM learns to abort the request. */
    void cancel() {
        if (!finished && request != null) {
            request.reset();
        }
        finish(false);
    }
}
