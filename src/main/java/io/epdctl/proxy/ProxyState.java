package io.epdctl.proxy;

import io.epdctl.topology.Role;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** What every event loop of one proxy shares: the backends, the requests waiting for a prefill, the counters. */
final class ProxyState {
    private final ProxyConfig config;
    private final Map<Role, BackendPool> pools = new EnumMap<>(Role.class);
    private final AwaitingPrefill<ProxyExchange> awaitingPrefill = new AwaitingPrefill<>();
    private final ProxyMetrics metrics = new ProxyMetrics();
    private final Consumer<String> log;
    private volatile String metaserverUrl;

    ProxyState(ProxyConfig config, Consumer<String> log) {
        this.config = config;
        this.log = log;
        for (Role role : Role.values()) {
            pools.put(role, new BackendPool(role, config.backends().of(role)));
        }
    }

    ProxyConfig config() {
        return config;
    }

    BackendPool pool(Role role) {
        return pools.get(role);
    }

    /** The pools this proxy routes to (empty ones left out), in the order encoder, pd, prefill, decode. */
    List<BackendPool> pools() {
        return pools.values().stream().filter(pool -> !pool.isEmpty()).toList();
    }

    AwaitingPrefill<ProxyExchange> awaitingPrefill() {
        return awaitingPrefill;
    }

    RetryPolicy retries() {
        return new RetryPolicy(config.tuning().maxRetries(), config.tuning().retryDelay());
    }

    ProxyMetrics metrics() {
        return metrics;
    }

    void log(String message) {
        log.accept(message);
    }

    String metaserverUrl() {
        return metaserverUrl;
    }

    void listeningOn(int port) {
        metaserverUrl = "http://" + new Endpoint(config.listen().host(), port).authority() + "/v1/metaserver";
    }

    /** Marks a backend down after a failed connection, until the next probe finds it healthy again. */
    void markDown(Backend backend, String problem) {
        if (backend.markDown(problem)) {
            log("backend " + backend + " is down: " + problem);
        }
    }

    void markHealthy(Backend backend) {
        if (backend.markHealthy()) {
            log("backend " + backend + " is healthy");
        }
    }
}
