package io.epdctl.proxy;

import io.epdctl.topology.Role;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What the proxy tells about itself: {@code /health}, {@code /healthcheck} and {@code /metrics}. */
final class StatusRoutes {
    private final ProxyState state;

    StatusRoutes(ProxyState state) {
        this.state = state;
    }

    /**
     * 200 when every role has a usable (healthy, not draining) backend, else 503 naming the backends that
     * are down or draining, and {@code no_backend} the roles left without any;
     * {@code scriptFormat} adds the fields of the vLLM-Ascend script's /healthcheck.
     */
    void health(HttpServerRequest request, boolean scriptFormat) {
        Map<String, Object> answer = new LinkedHashMap<>();
        boolean healthy = true;
        List<String> down = new ArrayList<>();
        List<String> draining = new ArrayList<>();
        List<String> noBackend = new ArrayList<>();
        Map<String, Object> roles = new LinkedHashMap<>();
        for (BackendPool pool : state.pools()) {
            List<Backend> backends = pool.backends();
            healthy &= backends.stream().anyMatch(Backend::usable);
            long up = backends.stream().filter(Backend::healthy).count();
            roles.put(pool.role().yamlName(), Map.of("healthy", up, "total", backends.size()));
            backends.stream().filter(backend -> !backend.healthy())
                    .forEach(backend -> down.add(backend + ": " + backend.healthProblem()));
            backends.stream().filter(Backend::draining).forEach(backend -> draining.add(backend.toString()));
            if (backends.isEmpty()) {
                noBackend.add(pool.role().yamlName());
            }
        }
        answer.put("status", healthy ? "ok" : "unhealthy");
        if (scriptFormat) {
            // the script's status was always "ok"
            answer.put("encode_instances", state.pool(Role.ENCODER).backends().size());
            answer.put("prefill_instances", state.pool(Role.PREFILL).backends().size());
            answer.put("decode_instances", state.pool(Role.DECODE).backends().size());
            answer.put("pd_instances", state.pool(Role.PD).backends().size());
        }
        answer.put("roles", roles);
        answer.put("down", down);
        if (!draining.isEmpty()) {
            answer.put("draining", draining);
        }
        if (!noBackend.isEmpty()) {
            answer.put("no_backend", noBackend);
        }
        request.response().setStatusCode(healthy ? 200 : 503)
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(ProxyJson.buffer(answer));
    }

    /** The Prometheus text of the proxy's and every backend's counters. */
    void metrics(HttpServerRequest request) {
        request.response().putHeader(HttpHeaders.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
                .end(state.metrics().prometheusText(state.pools(), state.awaitingPrefill().size()));
    }
}
