package io.epdctl.proxy;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/** Client-side counters of the proxy, and the Prometheus text of them and of every backend's counters. */
final class ProxyMetrics {
    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    private final AtomicInteger inFlight = new AtomicInteger();

    void started(String route) {
        requests.computeIfAbsent(route, key -> new LongAdder()).increment();
        inFlight.incrementAndGet();
    }

    void ended(String route, boolean failed) {
        inFlight.decrementAndGet();
        if (failed) {
            errors.computeIfAbsent(route, key -> new LongAdder()).increment();
        }
    }

    int inFlight() {
        return inFlight.get();
    }

    String prometheusText(List<BackendPool> pools, int awaitingPrefill) {
        StringBuilder text = new StringBuilder(4096);
        header(text, "epdctl_proxy_requests_total", "counter", "Client requests by route.");
        requests.forEach((route, count) -> sample(text, "epdctl_proxy_requests_total", "route", route, count.sum()));
        header(text, "epdctl_proxy_request_errors_total", "counter",
                "Client requests that ended with an error status or a broken stream, by route.");
        errors.forEach((route, count) -> sample(text, "epdctl_proxy_request_errors_total", "route", route, count.sum()));
        header(text, "epdctl_proxy_requests_in_flight", "gauge", "Client requests being served.");
        text.append("epdctl_proxy_requests_in_flight ").append(inFlight.get()).append('\n');
        header(text, "epdctl_proxy_awaiting_prefill", "gauge", "Disaggregated requests waiting for the decoder's metaserver call.");
        text.append("epdctl_proxy_awaiting_prefill ").append(awaitingPrefill).append('\n');

        Runtime runtime = Runtime.getRuntime();
        header(text, "epdctl_proxy_jvm_heap_used_bytes", "gauge", "Java heap in use (live and not yet collected).");
        text.append("epdctl_proxy_jvm_heap_used_bytes ").append(runtime.totalMemory() - runtime.freeMemory()).append('\n');

        header(text, "epdctl_proxy_backend_up", "gauge", "1 when the backend's last health probe succeeded.");
        forEachBackend(pools, (backend, labels) -> text.append("epdctl_proxy_backend_up").append(labels)
                .append(' ').append(backend.healthy() ? 1 : 0).append('\n'));
        header(text, "epdctl_proxy_backend_in_flight", "gauge", "Requests in flight to the backend.");
        forEachBackend(pools, (backend, labels) -> text.append("epdctl_proxy_backend_in_flight").append(labels)
                .append(' ').append(backend.inFlight()).append('\n'));
        header(text, "epdctl_proxy_backend_requests_total", "counter", "Requests sent to the backend.");
        forEachBackend(pools, (backend, labels) -> text.append("epdctl_proxy_backend_requests_total").append(labels)
                .append(' ').append(backend.requests()).append('\n'));
        header(text, "epdctl_proxy_backend_errors_total", "counter",
                "Backend requests that failed: no connection, an error status, or a broken response.");
        forEachBackend(pools, (backend, labels) -> text.append("epdctl_proxy_backend_errors_total").append(labels)
                .append(' ').append(backend.errors()).append('\n'));
        header(text, "epdctl_proxy_backend_request_seconds", "histogram",
                "Time from sending a request to the backend to the end of its response.");
        forEachBackend(pools, (backend, labels) -> {
            long[] buckets = backend.cumulativeBuckets();
            String open = labels.substring(0, labels.length() - 1);
            for (int i = 0; i < buckets.length; i++) {
                text.append("epdctl_proxy_backend_request_seconds_bucket").append(open).append(",le=\"")
                        .append(Backend.LATENCY_BUCKETS[i]).append("\"} ").append(buckets[i]).append('\n');
            }
            long finished = backend.requests() - backend.inFlight();
            text.append("epdctl_proxy_backend_request_seconds_bucket").append(open).append(",le=\"+Inf\"} ")
                    .append(finished).append('\n');
            text.append("epdctl_proxy_backend_request_seconds_sum").append(labels).append(' ')
                    .append(backend.latencySeconds()).append('\n');
            text.append("epdctl_proxy_backend_request_seconds_count").append(labels).append(' ')
                    .append(finished).append('\n');
        });
        return text.toString();
    }

    private interface BackendLine {
        void append(Backend backend, String labels);
    }

    private static void forEachBackend(List<BackendPool> pools, BackendLine line) {
        for (BackendPool pool : pools) {
            for (Backend backend : pool.backends()) {
                line.append(backend, "{role=\"" + backend.role().yamlName() + "\",backend=\"" + backend.endpoint() + "\"}");
            }
        }
    }

    private static void header(StringBuilder text, String name, String type, String help) {
        text.append("# HELP ").append(name).append(' ').append(help).append('\n');
        text.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void sample(StringBuilder text, String name, String label, String value, long count) {
        text.append(name).append('{').append(label).append("=\"").append(value).append("\"} ").append(count).append('\n');
    }
}
