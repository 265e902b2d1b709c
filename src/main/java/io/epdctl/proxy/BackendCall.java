package io.epdctl.proxy;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import java.time.Duration;

/** One request of a client request to one backend (one attempt); its counters end exactly once. */
final class BackendCall {
    private final Backend backend;
    private final ProxyExchange exchange;
    private final long startNanos = System.nanoTime();
    private HttpClientRequest request;
    private HttpClientResponse response;
    private boolean finished;
    private Vertx vertx;
    private long silenceNanos;
    private Runnable onSilence;
    private long lastChunkNanos;
    private long silenceTimer = -1;

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

    /**
     * Once the answer has started (the HTTP client's own idle timeout covers the wait for it), calls
     * {@code onSilence} if the backend then sends nothing for {@code timeout}. One timer per call, moved
     * on only when it fires, so that a chunk costs a clock read and not a timer.
     */
    void watchForSilence(Vertx vertx, Duration timeout, Runnable onSilence) {
        if (timeout.isZero() || finished) {
            return;
        }
        this.vertx = vertx;
        this.silenceNanos = timeout.toNanos();
        this.onSilence = onSilence;
        lastChunkNanos = System.nanoTime();
        silenceTimer = vertx.setTimer(timeout.toMillis(), this::checkSilence);
    }

    private void checkSilence(long timer) {
        long silentFor = System.nanoTime() - lastChunkNanos;
        if (silentFor >= silenceNanos) {
            silenceTimer = -1;
            onSilence.run();
        } else {
            silenceTimer = vertx.setTimer(Math.max(1, (silenceNanos - silentFor) / 1_000_000), this::checkSilence);
        }
    }

    /** A chunk of the answer arrived. */
    void chunk() {
        lastChunkNanos = System.nanoTime();
    }

    void finish(boolean failed) {
        if (!finished) {
            finished = true;
            if (silenceTimer >= 0) {
                vertx.cancelTimer(silenceTimer); // else it would hold the call until it fires
            }
            backend.finished(startNanos, failed);
            exchange.closed(this);
        }
    }

    /** The client went away: drop the backend's connection, which is how vLLM learns to abort the request. */
    void cancel() {
        if (!finished) {
            dropConnection();
        }
        finish(false);
    }

    /** Drops the backend's connection, also after {@link #finish}: the caller decides the order of events. */
    void dropConnection() {
        if (request != null) {
            request.reset();
        }
    }
}
