package io.epdctl.proxy;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.util.ArrayList;
import java.util.List;

/** Probes every backend's {@code GET /health} periodically; only backends that answer 200 get requests. */
final class HealthMonitor {
    private final Vertx vertx;
    private final HttpClient client;
    private final ProxyState state;
    private long timerId = -1;

    HealthMonitor(Vertx vertx, HttpClient client, ProxyState state) {
        this.vertx = vertx;
        this.client = client;
        this.state = state;
    }

    /** Probes once now (the returned future completes when every probe has an answer), then periodically. */
    Future<Void> start() {
        long interval = state.config().healthInterval().toMillis();
        return probeAll().onComplete(done -> timerId = vertx.setPeriodic(interval, id -> probeAll()));
    }

    void stop() {
        vertx.cancelTimer(timerId);
    }

    Future<Void> probeAll() {
        List<Future<Void>> probes = new ArrayList<>();
        for (BackendPool pool : state.pools()) {
            pool.backends().forEach(backend -> probes.add(probe(backend)));
        }
        return Future.join(probes).mapEmpty();
    }

    private Future<Void> probe(Backend backend) {
        // a probe never outlives the next round
        long timeout = Math.max(1, Math.min(state.config().healthInterval().toMillis(), 5_000));
        RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET)
                .setHost(backend.endpoint().host()).setPort(backend.endpoint().port())
                .setURI("/health").setTimeout(timeout);
        return client.request(options)
                .compose(request -> request.send())
                .compose(response -> response.body().map(body -> response))
                .map(HttpClientResponse::statusCode)
                .transform(result -> {
                    if (result.succeeded() && result.result() == 200) {
                        state.markHealthy(backend);
                    } else {
                        state.markDown(backend, result.succeeded()
                                ? "GET /health answered " + result.result()
                                : "GET /health failed: " + result.cause().getMessage());
                    }
                    return Future.succeededFuture();
                });
    }
}
