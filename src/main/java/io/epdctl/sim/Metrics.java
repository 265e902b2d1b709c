package io.epdctl.sim;

import java.util.concurrent.atomic.AtomicLong;

/** What {@code GET /metrics} shows: vLLM's own series, and the simulator's counters of the EC and KV hand-offs. */
final class Metrics {
    final AtomicLong running = new AtomicLong();
    final AtomicLong waiting = new AtomicLong();
    final AtomicLong promptTokens = new AtomicLong();
    final AtomicLong generationTokens = new AtomicLong();
    final AtomicLong requestSuccess = new AtomicLong();
    final AtomicLong ecSaves = new AtomicLong();
    final AtomicLong ecHits = new AtomicLong();
    final AtomicLong ecMisses = new AtomicLong();
    final AtomicLong kvCallbacks = new AtomicLong();
    final AtomicLong kvCallbackFailures = new AtomicLong();
    final AtomicLong kvPushesSent = new AtomicLong();
    final AtomicLong kvPushFailures = new AtomicLong();
    final AtomicLong kvWaitTimeouts = new AtomicLong();
    final AtomicLong kvPulls = new AtomicLong();
    final AtomicLong kvPullFailures = new AtomicLong();

    /** What the prefill side's handshake listener of the pull connector counts (all zero elsewhere). */
    record Handshake(long served, long refused, long expired, long held) {
        static final Handshake NONE = new Handshake(0, 0, 0, 0);
    }

    /**
     * Prometheus text; {@code kvReceived}/{@code kvRefused} come from the layerwise decode side's listener,
     * {@code handshake} from the pull connector's prefill side.
     */
    String render(String modelName, int maxNumSeqs, long kvReceived, long kvRefused, Handshake handshake) {
        String labels = "{engine=\"0\",model_name=\"" + modelName.replace("\\", "\\\\").replace("\"", "\\\"") + "\"}";
        StringBuilder text = new StringBuilder();
        gauge(text, "vllm:num_requests_running", "Number of requests in model execution batches.", labels, running.get());
        gauge(text, "vllm:num_requests_waiting", "Number of requests waiting to be processed.", labels, waiting.get());
        gauge(text, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", labels,
                Math.min(1.0, running.get() / (double) maxNumSeqs));
        counter(text, "vllm:prompt_tokens_total", "Number of prefill tokens processed.", labels, promptTokens.get());
        counter(text, "vllm:generation_tokens_total", "Number of generation tokens processed.", labels,
                generationTokens.get());
        counter(text, "vllm:request_success_total", "Count of successfully processed requests.", labels,
                requestSuccess.get());
        counter(text, "vllm_sim:ec_cache_saves_total", "Encoder-cache files written (ec_producer).", labels,
                ecSaves.get());
        counter(text, "vllm_sim:ec_cache_hits_total", "Images whose encoder cache was found (ec_consumer).", labels,
                ecHits.get());
        counter(text, "vllm_sim:ec_cache_misses_total", "Images whose encoder cache was missing (ec_consumer).",
                labels, ecMisses.get());
        counter(text, "vllm_sim:kv_metaserver_callbacks_total", "Callbacks POSTed to a metaserver (kv_consumer).",
                labels, kvCallbacks.get());
        counter(text, "vllm_sim:kv_metaserver_callback_failures_total", "Metaserver callbacks that failed.", labels,
                kvCallbackFailures.get());
        counter(text, "vllm_sim:kv_pushes_sent_total", "KV pushes delivered to a decoder (kv_producer).", labels,
                kvPushesSent.get());
        counter(text, "vllm_sim:kv_push_failures_total", "KV pushes that failed (kv_producer).", labels,
                kvPushFailures.get());
        counter(text, "vllm_sim:kv_pushes_received_total", "KV pushes received for a waiting request (kv_consumer).",
                labels, kvReceived);
        counter(text, "vllm_sim:kv_pushes_refused_total", "KV pushes refused: no request waited for them.", labels,
                kvRefused);
        counter(text, "vllm_sim:kv_wait_timeouts_total", "Requests that gave up waiting for their KV (kv_consumer).",
                labels, kvWaitTimeouts.get());
        counter(text, "vllm_sim:kv_pulls_total", "KV caches pulled from a prefiller (kv_consumer, pull mode).", labels,
                kvPulls.get());
        counter(text, "vllm_sim:kv_pull_failures_total", "KV pulls that failed (kv_consumer, pull mode).", labels,
                kvPullFailures.get());
        counter(text, "vllm_sim:kv_pull_shares_served_total", "Rank shares of KV served to a pulling decoder "
                + "(kv_producer, pull mode).", labels, handshake.served());
        counter(text, "vllm_sim:kv_pull_shares_refused_total", "Pulls refused: no such KV held, or another engine id "
                + "(kv_producer, pull mode).", labels, handshake.refused());
        counter(text, "vllm_sim:kv_held_expired_total", "Held KV freed unpulled after VLLM_MOONCAKE_ABORT_REQUEST_TIMEOUT "
                + "(kv_producer, pull mode).", labels, handshake.expired());
        gauge(text, "vllm_sim:kv_held_requests", "Requests whose KV waits to be pulled (kv_producer, pull mode).",
                labels, handshake.held());
        return text.toString();
    }

    private static void gauge(StringBuilder text, String name, String help, String labels, double value) {
        text.append("# HELP ").append(name).append(' ').append(help).append('\n')
                .append("# TYPE ").append(name).append(" gauge\n")
                .append(name).append(labels).append(' ').append(value).append('\n');
    }

    private static void counter(StringBuilder text, String name, String help, String labels, long value) {
        text.append("# HELP ").append(name).append(' ').append(help).append('\n')
                .append("# TYPE ").append(name).append(" counter\n")
                .append(name).append(labels).append(' ').append((double) value).append('\n');
    }
}
