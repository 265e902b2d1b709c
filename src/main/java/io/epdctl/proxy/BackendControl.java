package io.epdctl.proxy;

import io.epdctl.topology.Role;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Changes the backends of a running proxy: list, add, drain, remove (what the control channel offers).
 * Roles follow the proxy's mode: PD backends only in a proxy started with PD, prefillers and decoders
 * only in one started with them; encoders in either.
 */
final class BackendControl {
    /** How often a drain looks whether the backend's requests have ended. */
    private static final long DRAIN_POLL_MILLIS = 20;
    private final Vertx vertx;
    private final ProxyState state;
    private final HealthMonitor health;
    private final Supplier<List<Context>> eventLoops;

    BackendControl(Vertx vertx, ProxyState state, HealthMonitor health, Supplier<List<Context>> eventLoops) {
        this.vertx = vertx;
        this.state = state;
        this.health = health;
        this.eventLoops = eventLoops;
    }

    /** One backend as the control channel shows it. */
    static Map<String, Object> describe(Backend backend) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("role", backend.role().yamlName());
        row.put("host", backend.endpoint().host());
        row.put("port", backend.endpoint().port());
        row.put("state", backend.draining() ? "draining" : "active");
        row.put("healthy", backend.healthy());
        row.put("in_flight", backend.inFlight());
        if (!backend.healthy()) {
            row.put("problem", backend.healthProblem());
        }
        java.time.Duration unhealthy = backend.unhealthyFor();
        if (unhealthy != null) {
            row.put("unhealthy_ms", unhealthy.toMillis());
        }
        return row;
    }

    List<Map<String, Object>> list() {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (BackendPool pool : state.pools()) {
            pool.backends().forEach(backend -> rows.add(describe(backend)));
        }
        return rows;
    }

    /** Why {@code role} cannot be given backends in this proxy; null when it can. */
    String refusedRole(Role role) {
        boolean disaggregated = state.config().backends().disaggregated();
        if (role == Role.PD && disaggregated) {
            return "this proxy routes to prefillers and decoders; a pd backend needs a proxy started with pd backends";
        }
        if ((role == Role.PREFILL || role == Role.DECODE) && !disaggregated) {
            return "this proxy routes to pd backends; a " + role.yamlName() + " backend needs a proxy started with prefillers and decoders";
        }
        return null;
    }

    /**
     * Adds a backend and probes it once; it gets requests from when a probe finds it healthy (this one or
     * a later one). Fails with 409 when it is there already.
     */
    Future<Backend> add(Role role, Endpoint endpoint) {
        String refused = refusedRole(role);
        if (refused != null) {
            return Future.failedFuture(ProxyFailure.of(400, refused));
        }
        Backend backend = state.pool(role).add(endpoint).orElse(null);
        if (backend == null) {
            return Future.failedFuture(ProxyFailure.of(409, role.yamlName() + " backend " + endpoint + " is there already"));
        }
        state.log("backend " + backend + " added");
        return health.probe(backend).map(probed -> backend);
    }

    /**
     * Stops sending the backend new requests and completes once its requests in flight have ended (a
     * decoder's stream ends only after its prefill), or after {@code timeout}, with how many were left.
     * The last prefiller being drained also waits for the requests whose decoder has not asked for their
     * prefill yet: no other prefiller can serve them.
     */
    Future<Map<String, Object>> drain(Role role, Endpoint endpoint, Duration timeout) {
        Backend backend = state.pool(role).find(endpoint).orElse(null);
        if (backend == null) {
            return Future.failedFuture(notFound(role, endpoint));
        }
        if (!backend.draining()) {
            backend.drain();
            state.log("backend " + backend + " draining");
        }
        // A pick on an event loop that read "not draining" opens its call in the same task: once every
        // event loop has run one more task, no request counted here can still be on its way.
        List<Future<Void>> barrier = new ArrayList<>();
        for (Context loop : eventLoops.get()) {
            Promise<Void> passed = Promise.promise();
            loop.runOnContext(ignored -> passed.complete());
            barrier.add(passed.future());
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        Promise<Map<String, Object>> drained = Promise.promise();
        Future.join(barrier).onComplete(ignored -> await(backend, deadline, drained));
        return drained.future();
    }

    private void await(Backend backend, long deadline, Promise<Map<String, Object>> drained) {
        int left = inFlight(backend);
        if (left == 0 || System.nanoTime() - deadline >= 0) {
            Map<String, Object> answer = describe(backend);
            answer.put("drained", left == 0);
            answer.put("in_flight", left);
            if (left > 0) {
                state.log("backend " + backend + ": drain timed out with " + left + " requests in flight");
            }
            drained.complete(answer);
            return;
        }
        vertx.setTimer(DRAIN_POLL_MILLIS, id -> await(backend, deadline, drained));
    }

    /** What still holds the backend: its own calls, and for the last prefiller the prefills still to come. */
    private int inFlight(Backend backend) {
        int own = backend.inFlight();
        if (backend.role() == Role.PREFILL && !state.pool(Role.PREFILL).anyUsable()) {
            return own + state.awaitingPrefill().size();
        }
        return own;
    }

    /** Takes the backend out of the proxy; requests still on it go on to their end. */
    Future<Map<String, Object>> remove(Role role, Endpoint endpoint) {
        Backend backend = state.pool(role).remove(endpoint).orElse(null);
        if (backend == null) {
            return Future.failedFuture(notFound(role, endpoint));
        }
        state.log("backend " + backend + " removed");
        return Future.succeededFuture(describe(backend));
    }

    private static ProxyFailure notFound(Role role, Endpoint endpoint) {
        return ProxyFailure.of(404, "no " + role.yamlName() + " backend " + endpoint);
    }
}
