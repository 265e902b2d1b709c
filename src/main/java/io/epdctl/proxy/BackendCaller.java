package io.epdctl.proxy;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.net.ConnectException;
import java.time.Duration;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * Sends the calls of client requests to the least-loaded healthy backend of a role, and tries again
 * while nothing has reached the client, up to --max-retries attempts, waiting --retry-delay before the
 * first retry and twice as long before each next one:
 * <ul>
 * <li>a connection refused (or not made in time) marks the backend down; the next attempt goes elsewhere;
 * <li>a connection the backend closed before any byte of its answer (a pooled connection it had just
 * dropped, or a backend that shed the request) leaves it healthy; the next attempt goes to another
 * healthy backend of the role where there is one, else to the same one on a new connection;
 * <li>a one-token answer (encoder, prefiller) that breaks off is retried too: it is read whole before
 * anything goes on, so the client has seen none of it;
 * <li>once a streamed answer has begun, whatever its status, and after a backend stayed silent past
 * --backend-timeout (it may still be working on the request), there is no retry.
 * </ul>
 * One per event loop, with that loop's pooled client.
 */
final class BackendCaller {
    private final Vertx vertx;
    private final HttpClient client;
    private final ProxyState state;
    private final String apiKey = System.getenv("OPENAI_API_KEY");

    BackendCaller(Vertx vertx, HttpClient client, ProxyState state) {
        this.vertx = vertx;
        this.client = client;
        this.state = state;
    }

    /** A call whose answer is relayed as it comes: complete once its status and headers are in, its body paused. */
    Future<BackendCall> call(ProxyExchange exchange, BackendPool pool, HttpMethod method, Buffer body) {
        return new Attempts(exchange, pool, new Outgoing(method, body, false, false, exchange.id())).start();
    }

    /** A call whose whole answer is needed before going on (encoder, prefiller); an error status fails it. */
    Future<Buffer> callForBody(ProxyExchange exchange, BackendPool pool, Buffer body) {
        return callForBody(exchange, pool, body, false);
    }

    /** The same; with {@code drainingToo} a backend being drained serves it when no other can. */
    Future<Buffer> callForBody(ProxyExchange exchange, BackendPool pool, Buffer body, boolean drainingToo) {
        return callForBody(exchange, pool, body, drainingToo, exchange.id());
    }

    /**
     * The same, sent with X-Request-Id {@code requestId}: one of several calls of the request to one role at
     * once (encoder fan-out), each of which a backend must be able to tell apart.
     */
    Future<Buffer> callForBody(ProxyExchange exchange, BackendPool pool, Buffer body, boolean drainingToo,
            String requestId) {
        Outgoing outgoing = new Outgoing(HttpMethod.POST, body, true, drainingToo, requestId);
        return new Attempts(exchange, pool, outgoing).start().compose(call -> {
            HttpClientResponse response = call.response();
            int status = response.statusCode();
            call.finish(status >= 400);
            return status >= 400
                    ? Future.failedFuture(ProxyFailure.backendAnswer(call.backend(), status,
                            response.getHeader(HttpHeaders.CONTENT_TYPE), call.wholeAnswer()))
                    : Future.succeededFuture(call.wholeAnswer());
        });
    }

    /**
     * What goes to the backend; {@code whole}: its answer is read to the end before the call counts as
     * answered; {@code drainingToo}: a backend being drained may take it when no other can; {@code requestId}:
     * its X-Request-Id.
     */
    private record Outgoing(HttpMethod method, Buffer body, boolean whole, boolean drainingToo, String requestId) {
    }

    /** One backend call of a client request, over as many attempts as it takes. Runs on the request's event loop. */
    private final class Attempts {
        private final ProxyExchange exchange;
        private final BackendPool pool;
        private final Outgoing outgoing;
        private final RetryPolicy retries = state.retries();
        private final Promise<BackendCall> promise = Promise.promise();
        /** Backends that refused a connection: down, not tried again. */
        private final Set<Backend> refused = new HashSet<>();
        /** Backends that closed the connection: tried again only when no other is left. */
        private final Set<Backend> closed = new HashSet<>();
        private int failed;
        private String lastProblem;

        Attempts(ProxyExchange exchange, BackendPool pool, Outgoing outgoing) {
            this.exchange = exchange;
            this.pool = pool;
            this.outgoing = outgoing;
        }

        Future<BackendCall> start() {
            next();
            return promise.future();
        }

        private void next() {
            if (exchange.done()) {
                promise.fail(ProxyFailure.of(499, "the client went away"));
                return;
            }
            Backend backend = pool.pick(refused, closed, outgoing.drainingToo());
            if (backend == null) {
                promise.fail(lastProblem != null ? ProxyFailure.of(502, lastProblem)
                        : Availability.noUsableBackend(pool, state.retryAfterSeconds()));
                return;
            }
            send(exchange.open(backend));
        }

        private void send(BackendCall call) {
            client.request(options(call.backend()))
                    .compose(request -> {
                        call.sent(request);
                        // a silent backend has the request and may still be working on it: no retry elsewhere
                        call.watchForSilence(vertx, state.config().tuning().backendTimeout(), promise::tryFail);
                        return outgoing.body() == null ? request.send() : request.send(outgoing.body());
                    })
                    .onSuccess(response -> {
                        call.answered(response);
                        if (outgoing.whole()) {
                            response.body()
                                    .onSuccess(whole -> {
                                        call.wholeAnswer(whole);
                                        promise.tryComplete(call);
                                    })
                                    .onFailure(broken -> failed(call, call.backend() + " broke off its answer: "
                                            + broken.getMessage(), broken));
                        } else {
                            response.pause();
                            promise.tryComplete(call); // false only if the silence watch ended the call first
                        }
                    })
                    .onFailure(failure -> failed(call, call.backend() + " failed before answering: "
                            + failure.getMessage(), failure));
        }

        private void failed(BackendCall call, String problem, Throwable failure) {
            call.finish(true);
            if (promise.future().isComplete()) {
                return; // the silence watch failed it and dropped the connection
            }
            if (exchange.done()) {
                promise.fail(ProxyFailure.of(499, "the client went away"));
                return;
            }
            Backend backend = call.backend();
            lastProblem = problem;
            if (failure instanceof ConnectException) {
                state.markDown(backend, failure.getMessage());
                refused.add(backend);
            } else {
                // the backend is up (it took the connection): another one, else a new connection to it, may serve
                closed.add(backend);
            }
            failed++;
            Optional<Duration> delay = retries.delayAfter(failed);
            if (delay.isEmpty()) {
                promise.fail(ProxyFailure.of(502, lastProblem));
            } else if (delay.get().toMillis() <= 0) {
                next();
            } else {
                vertx.setTimer(delay.get().toMillis(), id -> next());
            }
        }

        private RequestOptions options(Backend backend) {
            RequestOptions options = new RequestOptions().setMethod(outgoing.method())
                    .setHost(backend.endpoint().host()).setPort(backend.endpoint().port())
                    .setURI(exchange.path())
                    .putHeader("X-Request-Id", outgoing.requestId());
            if (outgoing.body() != null) {
                options.putHeader(HttpHeaders.CONTENT_TYPE, "application/json");
            }
            // the client's credentials, else the key the proxy was started with (as the script does)
            String authorization = exchange.clientAuthorization() != null ? exchange.clientAuthorization()
                    : apiKey == null ? null : "Bearer " + apiKey;
            if (authorization != null) {
                options.putHeader(HttpHeaders.AUTHORIZATION, authorization);
            }
            return options;
        }
    }
}
