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
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Sends the calls of client requests to the least-loaded healthy backend of a role. A backend that cannot
 * be reached is marked down and the next healthy one is tried, up to --max-retries attempts; a connection
 * closed before any answer may be retried on the same backend. Once a backend has answered (whatever the
 * status), there is no retry. One per event loop, with that loop's pooled client.
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
        return new Attempts(exchange, pool, method, body).start();
    }

    /** A call whose whole answer is needed before going on (encoder, prefiller); an error status fails it. */
    Future<Buffer> callForBody(ProxyExchange exchange, BackendPool pool, Buffer body) {
        return call(exchange, pool, HttpMethod.POST, body).compose(call -> {
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

    /** One backend call of a client request, over as many attempts as it takes. Runs on the request's event loop. */
    private final class Attempts {
        private final ProxyExchange exchange;
        private final BackendPool pool;
        private final HttpMethod method;
        private final Buffer body;
        private final RetryPolicy retries = state.retries();
        private final Promise<BackendCall> promise = Promise.promise();
        private final Set<Backend> tried = new HashSet<>();
        private int failed;
        private String lastProblem;

        Attempts(ProxyExchange exchange, BackendPool pool, HttpMethod method, Buffer body) {
            this.exchange = exchange;
            this.pool = pool;
            this.method = method;
            this.body = body;
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
            Backend backend = pool.pick(tried);
            if (backend == null) {
                promise.fail(lastProblem != null ? ProxyFailure.of(502, lastProblem)
                        : ProxyFailure.of(503, "no healthy " + pool.role().yamlName() + " backend: " + downList()));
                return;
            }
            tried.add(backend);
            send(exchange.open(backend));
        }

        private void send(BackendCall call) {
            client.request(options(call.backend()))
                    .compose(request -> {
                        call.sent(request);
                        // a silent backend has the request and may still be working on it: no retry elsewhere
                        call.watchForSilence(vertx, state.config().tuning().backendTimeout(), promise::tryFail);
                        return body == null ? request.send() : request.send(body);
                    })
                    .onSuccess(response -> {
                        response.pause();
                        call.answered(response);
                        promise.tryComplete(call); // false only if the silence watch ended the call first
                    })
                    .onFailure(failure -> failed(call, failure));
        }

        private void failed(BackendCall call, Throwable failure) {
            call.finish(true);
            if (promise.future().isComplete()) {
                return; // the silence watch failed it and dropped the connection
            }
            if (exchange.done()) {
                promise.fail(ProxyFailure.of(499, "the client went away"));
                return;
            }
            Backend backend = call.backend();
            lastProblem = backend + " failed before answering: " + failure.getMessage();
            if (failure instanceof ConnectException) {
                state.markDown(backend, failure.getMessage());
            } else {
                // a pooled connection the backend had just closed: the backend is fine, a new
                // connection to it may serve the retry
                tried.remove(backend);
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
            RequestOptions options = new RequestOptions().setMethod(method)
                    .setHost(backend.endpoint().host()).setPort(backend.endpoint().port())
                    .setURI(exchange.path())
                    .putHeader("X-Request-Id", exchange.id());
            if (body != null) {
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

        private String downList() {
            List<String> down = new ArrayList<>();
            for (Backend backend : pool.backends()) {
                down.add(backend.endpoint() + " (" + backend.healthProblem() + ")");
            }
            return String.join(", ", down);
        }
    }
}
