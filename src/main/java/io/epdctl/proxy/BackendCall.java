package io.epdctl.proxy;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.function.Consumer;

/** One request of a client request to one backend (one attempt); its counters end exactly once. */
final class BackendCall {
    private final Backend backend;
    /** Who holds the call (its client request), to let go of it once it has ended. */
    private final Consumer<BackendCall> ended;
    private final long startNanos = System.nanoTime();
    private HttpClientRequest request;
    private HttpClientResponse response;
    private Buffer wholeAnswer;
    private boolean finished;
    // the silence watch (see watchForSilence); all of it runs on the exchange's event loop
    private Vertx vertx;
    private Duration silenceLimit;
    private Consumer<ProxyFailure> silenceReport;
    private long lastByteNanos;
    private boolean held;
    private long silenceTimer = -1;

    BackendCall(Backend backend, Consumer<BackendCall> ended) {
        this.backend = backend;
        this.ended = ended;
        backend.started();
    }

    Backend backend() {
        return backend;
    }

    HttpClientResponse response() {
        return response;
    }

    /** The answer's body, read to its end (one-token calls only). */
    Buffer wholeAnswer() {
        return wholeAnswer;
    }

    void wholeAnswer(Buffer body) {
        wholeAnswer = body;
    }

    void sent(HttpClientRequest request) {
        this.request = request;
    }

    void answered(HttpClientResponse response) {
        this.response = response;
        lastByteNanos = System.nanoTime();
    }

    /**
     * From now on, a backend that sends nothing for {@code limit} (before its answer starts, or between
     * two chunks of it) fails the call: it counts as failed, {@code report} hears a 504, and then the
     * connection is dropped (which aborts the request in vLLM), in this order so that the reset's own
     * error finds the request already ended. One timer per call, moved on only when it fires, so that a
     * chunk costs a clock read and not a timer. A zero limit watches nothing.
     */
    void watchForSilence(Vertx vertx, Duration limit, Consumer<ProxyFailure> report) {
        if (limit.isZero() || finished) {
            return;
        }
        this.vertx = vertx;
        this.silenceLimit = limit;
        this.silenceReport = report;
        lastByteNanos = System.nanoTime();
        silenceTimer = vertx.setTimer(Math.max(1, limit.toMillis()), this::checkSilence);
    }

    /** Who hears of a silence from now on (the call's answer has moved on to another stage). */
    void reportSilenceTo(Consumer<ProxyFailure> report) {
        silenceReport = report;
    }

    /**
     * Silence is expected for now (a decoder waits while its prefill runs, or the proxy stopped reading
     * for a slow client); {@link #resume()} ends that.
     */
    void hold() {
        held = true;
    }

    void resume() {
        held = false;
        lastByteNanos = System.nanoTime();
    }

    /** A chunk of the answer arrived. */
    void chunk() {
        lastByteNanos = System.nanoTime();
    }

    private void checkSilence(long timer) {
        long silentFor = System.nanoTime() - lastByteNanos;
        long limit = silenceLimit.toNanos();
        if (held || silentFor < limit) {
            long wait = held ? limit : limit - silentFor;
            silenceTimer = vertx.setTimer(Math.max(1, wait / 1_000_000), this::checkSilence);
            return;
        }
        silenceTimer = -1;
        finish(true);
        String seconds = BigDecimal.valueOf(silenceLimit.toMillis(), 3).stripTrailingZeros().toPlainString();
        silenceReport.accept(ProxyFailure.of(504, backend + " sent nothing for " + seconds
                + " s (--backend-timeout); its request was cancelled"));
        dropConnection();
    }

    void finish(boolean failed) {
        if (!finished) {
            finished = true;
            if (silenceTimer >= 0) {
                vertx.cancelTimer(silenceTimer); // else it would hold the call until it fires
            }
            backend.finished(startNanos, failed);
            ended.accept(this);
        }
    }

    /** The client went away: drop the backend's connection, which is how vLLM learns to abort the request. */
    void cancel() {
        if (!finished) {
            dropConnection();
        }
        finish(false);
    }

    private void dropConnection() {
        if (request != null) {
            request.reset();
        }
    }
}
