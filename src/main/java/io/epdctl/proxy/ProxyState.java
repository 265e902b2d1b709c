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
    /** The control channel of the proxy this one took over from, if any (see Dispatcher#metaserver). */
    private volatile ControlFile predecessor;

    ProxyState(ProxyConfig config, Consumer<String> log) {
        this.config = config;
        this.log = log;
        ProxyBackends backends = config.backends();
        for (Role role : Role.values()) {
            // the generating roles of the proxy's mode are needed even when every one of their backends is removed
            boolean generating = backends.disaggregated() ? role == Role.PREFILL || role == Role.DECODE : role == Role.PD;
            pools.put(role, new BackendPool(role, backends.of(role), generating));
        }
    }

    ProxyConfig config() {
        return config;
    }

    BackendPool pool(Role role) {
        return pools.get(role);
    }

    /**
     * The pools of the roles this proxy routes to, in the order encoder, pd, prefill, decode: those of its
     * mode and those that have had backends (a role whose backends were all removed stays, without any).
     */
    List<BackendPool> pools() {
        return pools.values().stream().filter(BackendPool::routed).toList();
    }

    /** Seconds a client is told to wait (Retry-After) when a role has no usable backend: about one health probe round. */
    long retryAfterSeconds() {
        return Math.max(1, (config.tuning().healthInterval().toMillis() + 999) / 1000);
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

    ControlFile predecessor() {
        return predecessor;
    }

    void predecessor(ControlFile previous) {
        predecessor = previous;
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
