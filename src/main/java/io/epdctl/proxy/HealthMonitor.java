package io.epdctl.proxy;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Probes every backend's {@code GET /health} periodically; only backends that answer 200 get requests: an error
 * status or a failed connection takes one out at once, a probe with no answer in time only the second in a row. A
 * backend that is down is probed more often, so that one that comes up (a node that finished loading, or
 * restarted) gets requests within a fraction of a second, while healthy ones are not probed more.
 */
final class HealthMonitor {
    private static final long DOWN_RECHECK_MILLIS = 200;
    private final Vertx vertx;
    private final HttpClient client;
    private final ProxyState state;
    private long timerId = -1;
    private long recheckTimerId = -1;
    /** Backends with a probe under way: a slow backend never has two. */
    private final Set<Backend> probing = ConcurrentHashMap.newKeySet();

    HealthMonitor(Vertx vertx, HttpClient client, ProxyState state) {
        this.vertx = vertx;
        this.client = client;
        this.state = state;
    }

    /** Probes once now (the returned future completes when every probe has an answer), then periodically. */
    Future<Void> start() {
        long interval = state.config().tuning().healthInterval().toMillis();
        return probeAll().onComplete(done -> {
            timerId = vertx.setPeriodic(interval, id -> probeAll());
            recheckTimerId = vertx.setPeriodic(Math.min(interval, DOWN_RECHECK_MILLIS), id -> probeDown());
        });
    }

    void stop() {
        vertx.cancelTimer(timerId);
        vertx.cancelTimer(recheckTimerId);
    }

    private void probeDown() {
        for (BackendPool pool : state.pools()) {
            pool.backends().stream().filter(backend -> !backend.healthy()).forEach(this::probe);
        }
    }

    Future<Void> probeAll() {
        List<Future<Void>> probes = new ArrayList<>();
        for (BackendPool pool : state.pools()) {
            pool.backends().forEach(backend -> probes.add(probe(backend)));
        }
        return Future.join(probes).mapEmpty();
    }

    /** Probes one backend now (or waits for nothing when a probe of it is under way). */
    Future<Void> probe(Backend backend) {
        if (!probing.add(backend)) {
            return Future.succeededFuture();
        }
        // a probe never outlives the next round
        long timeout = Math.max(1, Math.min(state.config().tuning().healthInterval().toMillis(), 5_000));
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
                    } else if (result.failed() && result.cause() instanceof java.util.concurrent.TimeoutException
                            && !backend.probeTimedOut()) {
                        // kept in: a second timeout in a row takes it out
                    } else {
                        state.markDown(backend, result.succeeded()
                                ? "GET /health answered " + result.result()
                                : "GET /health failed: " + result.cause().getMessage());
                    }
                    probing.remove(backend);
                    return Future.succeededFuture();
                });
    }
}
