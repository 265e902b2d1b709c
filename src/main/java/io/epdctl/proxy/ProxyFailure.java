package io.epdctl.proxy;

import io.vertx.core.buffer.Buffer;

/**
 * Why a request could not be served, as the client should see it: an HTTP status and a body.
 * A backend's own error answer is passed on as it came ({@code contentType} and {@code body}).
 */
final class ProxyFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;
    private final transient String contentType;
    private final transient Buffer body;
    /** Seconds for a Retry-After header; 0: none. */
    private final long retryAfterSeconds;

    private ProxyFailure(int status, String message, String contentType, Buffer body, long retryAfterSeconds) {
        super(message, null, false, false);
        this.status = status;
        this.contentType = contentType;
        this.body = body;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** The proxy's own verdict (no healthy backend, unreachable backend, bad request ...). */
    static ProxyFailure of(int status, String message) {
        return new ProxyFailure(status, message, null, null, 0);
    }

    /** A backend answered with an error status: its status and body go to the client unchanged. */
    static ProxyFailure backendAnswer(Backend backend, int status, String contentType, Buffer body) {
        return new ProxyFailure(status, backend + " answered " + status, contentType, body, 0);
    }

    /** A role has no usable backend now: 503, and the client may try again after {@code retryAfterSeconds}. */
    static ProxyFailure unavailable(String message, long retryAfterSeconds) {
        return new ProxyFailure(503, message, null, null, retryAfterSeconds);
    }

    /**
     * The same failure, its message saying first what part of the request it concerns ({@code about}); the
     * status, a backend's body and Retry-After stay as they were.
     */
    ProxyFailure about(String about) {
        return new ProxyFailure(status, about + ": " + getMessage(), contentType, body, retryAfterSeconds);
    }

    /** 0 when the answer has no Retry-After. */
    long retryAfterSeconds() {
        return retryAfterSeconds;
    }

    int status() {
        return status;
    }

    /** Null unless this is a backend's answer. */
    String contentType() {
        return contentType;
    }

    Buffer body() {
        return body;
    }
}
