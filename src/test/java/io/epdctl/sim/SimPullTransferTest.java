package io.epdctl.sim;

import static io.epdctl.sim.Http.json;
import static io.epdctl.sim.Http.metric;
import static io.epdctl.sim.Http.post;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.epdctl.testing.FreePorts;
import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SimCluster;
import io.epdctl.testing.SimNode;
import io.epdctl.testing.SystemTest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * MooncakeConnectorV1's pull flow between real simulator processes, driven step by step as vLLM-Ascend's
 * load-balance proxy drives it: the prefiller first (one token, do_remote_decode), then the decoder with the
 * kv_transfer_params of the prefiller's answer, from which it pulls the KV. Wrong wiring fails the request.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@SystemTest
class SimPullTransferTest {
    private static final Duration EXIT = Duration.ofSeconds(30);
    private final String marker = UUID.randomUUID().toString();
    private final Map<String, String> env = Map.of("VLLM_SIM_KV_TIMEOUT_MS", "3000", "EPDCTL_SIM_PULL_TEST", marker);

    private SimCluster cluster;
    private SimNode prefill;
    private SimNode decode;
    @TempDir
    Path dir;

    @BeforeAll
    void start(@TempDir Path clusterDir) {
        cluster = SimCluster.onePrefillOneDecodePull(clusterDir, env);
        prefill = cluster.node("p0");
        decode = cluster.node("d0");
    }

    @AfterAll
    void stop() {
        try {
            if (cluster != null) {
                cluster.close();
            }
        } finally {
            assertThat(ProcessTable.killAll("EPDCTL_SIM_PULL_TEST", marker)).as("simulators left running").isZero();
        }
    }

    private static ObjectNode chat(String text, int maxTokens) {
        ObjectNode request = Http.JSON.createObjectNode().put("model", SimCluster.SERVED_NAME).put("max_tokens", maxTokens);
        request.putArray("messages").addObject().put("role", "user").put("content", text);
        return request;
    }

    /** What the load-balance proxy sends a prefiller: one token, unstreamed, do_remote_decode, the rest null. */
    private static ObjectNode toPrefiller(ObjectNode request) {
        ObjectNode copy = request.deepCopy().put("stream", false).put("max_tokens", 1).put("min_tokens", 1);
        copy.putObject("kv_transfer_params").put("do_remote_decode", true).put("do_remote_prefill", false)
                .putNull("remote_engine_id").putNull("remote_block_ids").putNull("remote_host").putNull("remote_port");
        return copy;
    }

    /** The prefiller's kv_transfer_params for a fresh request {@code id}. */
    private JsonNode prefilled(SimNode prefiller, ObjectNode request, String id) {
        HttpResponse<String> answer = post(prefiller.baseUrl() + "/v1/chat/completions", toPrefiller(request),
                Map.of("X-Request-Id", id));
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        return json(answer).get("kv_transfer_params");
    }

    private HttpResponse<String> decodeWith(SimNode decoder, ObjectNode request, JsonNode kvTransferParams, String id) {
        ObjectNode copy = request.deepCopy();
        copy.set("kv_transfer_params", kvTransferParams);
        return post(decoder.baseUrl() + "/v1/chat/completions", copy, Map.of("X-Request-Id", id));
    }

    @Test
    void thePrefillerSaysWhereToPullAndTheDecoderPullsFromThere() {
        String id = UUID.randomUUID().toString();
        ObjectNode request = chat("Tell me a story about a fox.", 6).put("stream", true);
        double pulls = metric(decode.baseUrl(), "vllm_sim:kv_pulls_total");
        double served = metric(prefill.baseUrl(), "vllm_sim:kv_pull_shares_served_total");
        double held = metric(prefill.baseUrl(), "vllm_sim:kv_held_requests"); // other tests may leave some unpulled

        JsonNode params = prefilled(prefill, request, id);

        assertThat(params.path("do_remote_prefill").asBoolean()).isTrue();
        assertThat(params.path("do_remote_decode").asBoolean()).isFalse();
        assertThat(params.path("remote_engine_id").asText()).isEqualTo("0");
        assertThat(params.path("remote_request_id").asText()).isEqualTo("chatcmpl-" + id);
        assertThat(params.path("remote_host").asText()).isEqualTo("127.0.0.1");
        assertThat(params.path("remote_port").asInt()).as("the handshake port, kv_port").isEqualTo(cluster.kvPort());
        assertThat(params.path("remote_ptp_size").asInt()).isEqualTo(1);
        assertThat(params.path("remote_block_ids").path(0).isArray()).as(params.toString()).isTrue();
        assertThat(params.path("remote_block_ids").path(0).size()).isPositive();
        assertThat(params.path("num_prompt_blocks").asInt()).isEqualTo(params.path("remote_block_ids").path(0).size());
        assertThat(metric(prefill.baseUrl(), "vllm_sim:kv_held_requests")).as("held for the decoder").isEqualTo(held + 1);

        HttpResponse<String> answer = decodeWith(decode, request, params, id);

        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        assertThat(answer.body()).contains("\"id\":\"chatcmpl-" + id + "\"").endsWith("data: [DONE]\n\n");
        assertThat(metric(decode.baseUrl(), "vllm_sim:kv_pulls_total")).isEqualTo(pulls + 1);
        assertThat(metric(prefill.baseUrl(), "vllm_sim:kv_pull_shares_served_total")).isEqualTo(served + 1);
        assertThat(metric(prefill.baseUrl(), "vllm_sim:kv_held_requests")).as("freed once pulled").isEqualTo(held);
        assertThat(decode.log()).contains("Pulled KV of chatcmpl-" + id, "from 127.0.0.1:" + cluster.kvPort());

        // the blocks are freed: a second decoder given the same params finds nothing to pull
        HttpResponse<String> again = decodeWith(decode, request, params, UUID.randomUUID().toString());
        assertThat(again.statusCode()).isEqualTo(500);
        assertThat(json(again).path("error").path("message").asText()).contains("no KV of chatcmpl-" + id
                + " is held on rank 0 of engine 0");
    }

    @Test
    void wrongWiringFailsTheDecodersRequestAndNeverSucceedsSilently() {
        String id = UUID.randomUUID().toString();
        ObjectNode request = chat("Hello there.", 4);
        JsonNode params = prefilled(prefill, request, id);
        int nobody = SimNode.freePort();
        double failures = metric(decode.baseUrl(), "vllm_sim:kv_pull_failures_total");
        double success = metric(decode.baseUrl(), "vllm:request_success_total");

        Map<String, JsonNode> wrong = Map.of(
                "cannot reach the handshake socket at 127.0.0.1:" + nobody, ((ObjectNode) params.deepCopy()).put("remote_port", nobody),
                "refused: this is engine 0, not 7", ((ObjectNode) params.deepCopy()).put("remote_engine_id", "7"),
                "Got invalid KVTransferParams (no usable remote_host)", ((ObjectNode) params.deepCopy()).putNull("remote_host"),
                "Got invalid KVTransferParams (no usable remote_block_ids)",
                ((ObjectNode) params.deepCopy()).set("remote_block_ids", Http.JSON.createArrayNode()),
                "no KV of chatcmpl-never-prefilled is held",
                ((ObjectNode) params.deepCopy()).put("remote_request_id", "chatcmpl-never-prefilled"));
        wrong.forEach((reason, bad) -> {
            HttpResponse<String> answer = decodeWith(decode, request, bad, UUID.randomUUID().toString());
            assertThat(answer.statusCode()).as(reason + ": " + answer.body()).isEqualTo(500);
            assertThat(json(answer).path("error").path("message").asText()).as(reason).contains(reason);
        });

        assertThat(metric(decode.baseUrl(), "vllm_sim:kv_pull_failures_total")).isEqualTo(failures + wrong.size());
        assertThat(metric(decode.baseUrl(), "vllm:request_success_total")).isEqualTo(success);
        // none of them took the KV: the right params still pull it
        assertThat(decodeWith(decode, request, params, id).statusCode()).isEqualTo(200);
    }

    @Test
    void aPrefillWithoutDoRemoteDecodeHoldsNothingAndADecodeWithoutParamsComputesLocally() {
        ObjectNode request = chat("Plain request.", 3);
        double held = metric(prefill.baseUrl(), "vllm_sim:kv_held_requests");

        HttpResponse<String> plain = post(prefill.baseUrl() + "/v1/chat/completions", request, Map.of());
        HttpResponse<String> decodeOnly = post(decode.baseUrl() + "/v1/chat/completions", request, Map.of());

        assertThat(plain.statusCode()).isEqualTo(200);
        assertThat(json(plain).get("kv_transfer_params").isNull()).isTrue();
        assertThat(metric(prefill.baseUrl(), "vllm_sim:kv_held_requests")).isEqualTo(held);
        assertThat(decodeOnly.statusCode()).as("vLLM serves it as a whole request").isEqualTo(200);
    }

    @Test
    void kvNobodyPullsIsFreedAfterTheAbortTimeout() {
        int port = SimNode.freePort();
        try (SimNode early = SimNode.builder(dir).name("p-abort").flags(SimCluster.commonFlags())
                .flags(SimCluster.pullKvFlags("kv_producer", "5", port, "")).env(env)
                .env("VLLM_MOONCAKE_ABORT_REQUEST_TIMEOUT", "0").start()) {
            String id = UUID.randomUUID().toString();
            ObjectNode request = chat("Too late.", 2);
            JsonNode params = prefilled(early, request, id);

            HttpResponse<String> answer = decodeWith(decode, request, params, id);

            assertThat(answer.statusCode()).isEqualTo(500);
            assertThat(json(answer).path("error").path("message").asText()).contains("freed after the abort timeout");
            assertThat(metric(early.baseUrl(), "vllm_sim:kv_held_expired_total")).isEqualTo(1);
        }
    }

    @Test
    void aDecoderWithTheRecomputePolicyComputesWhatItCannotPull() {
        try (SimNode recompute = SimNode.builder(dir).name("d-recompute").flags(SimCluster.commonFlags())
                .flags(SimCluster.pullKvFlags("kv_consumer", "6", cluster.kvPort(), ", \"kv_load_failure_policy\": \"recompute\""))
                .env(env).start()) {
            ObjectNode request = chat("Recompute me.", 2);
            JsonNode params = ((ObjectNode) prefilled(prefill, request, UUID.randomUUID().toString()).deepCopy())
                    .put("remote_port", SimNode.freePort());

            HttpResponse<String> answer = decodeWith(recompute, request, params, UUID.randomUUID().toString());

            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
            assertThat(recompute.log()).contains("Failed to transfer KV cache", "kv_load_failure_policy recompute");
        }
    }

    @Test
    void aTensorParallelPrefillerServesOneShareFromEachRanksPort() {
        int port = FreePorts.pickRange(2);
        String twoRanks = "{\"kv_connector\":\"MooncakeConnectorV1\",\"kv_role\":\"kv_producer\",\"kv_port\":" + port
                + ",\"engine_id\":\"tp2\",\"kv_connector_extra_config\":{\"prefill\":{\"dp_size\":1,\"tp_size\":2},"
                + "\"decode\":{\"dp_size\":1,\"tp_size\":1}}}";
        try (SimNode wide = SimNode.builder(dir).name("p-tp2").flags(SimCluster.commonFlags())
                .flags("--tensor-parallel-size", "2", "--kv-transfer-config", twoRanks)
                .env(env).env("ASCEND_RT_VISIBLE_DEVICES", "6,7").start()) {
            String id = UUID.randomUUID().toString();
            ObjectNode request = chat("Split across two ranks.", 2);
            JsonNode params = prefilled(wide, request, id);
            assertThat(params.path("remote_ptp_size").asInt()).isEqualTo(2);

            HttpResponse<String> answer = decodeWith(decode, request, params, id);

            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
            assertThat(metric(wide.baseUrl(), "vllm_sim:kv_pull_shares_served_total")).isEqualTo(2);
            assertThat(decode.log()).contains("from 127.0.0.1:" + port + " (2 ranks)");
        }
    }

    @Test
    void aDataParallelPrefillerBindsEveryRanksPortAndFreesTheKvOnceItsRankIsPulled() throws Exception {
        int port = FreePorts.pickRange(2);
        String twoDpRanks = "{\"kv_connector\":\"MooncakeConnectorV1\",\"kv_role\":\"kv_producer\",\"kv_port\":" + port
                + ",\"engine_id\":\"dp2\",\"kv_connector_extra_config\":{\"prefill\":{\"dp_size\":2,\"tp_size\":1},"
                + "\"decode\":{\"dp_size\":1,\"tp_size\":1}}}";
        try (SimNode wide = SimNode.builder(dir).name("p-dp2").flags(SimCluster.commonFlags())
                .flags("--data-parallel-size", "2", "--kv-transfer-config", twoDpRanks)
                .env(env).env("ASCEND_RT_VISIBLE_DEVICES", "6,7").start()) {
            // both data-parallel ranks' handshake ports are bound
            for (int rank = 0; rank < 2; rank++) {
                try (java.net.Socket probe = new java.net.Socket("127.0.0.1", port + rank)) {
                    assertThat(probe.isConnected()).isTrue();
                }
            }
            String id = UUID.randomUUID().toString();
            ObjectNode request = chat("Two data-parallel ranks.", 2);
            JsonNode params = prefilled(wide, request, id);
            assertThat(params.path("remote_ptp_size").asInt()).isEqualTo(1);

            HttpResponse<String> answer = decodeWith(decode, request, params, id);

            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
            assertThat(metric(wide.baseUrl(), "vllm_sim:kv_held_requests")).as("freed by the pull of its one tp rank").isZero();
        }
    }

    @Test
    void startupRefusesWhatTheConnectorRefuses() {
        String narrowPrefill = "{\"kv_connector\":\"MooncakeConnectorV1\",\"kv_role\":\"kv_consumer\",\"kv_port\":30000,"
                + "\"kv_connector_extra_config\":{\"prefill\":{\"dp_size\":1,\"tp_size\":1},\"decode\":{\"dp_size\":1,\"tp_size\":2}}}";
        String noDecodeBlock = "{\"kv_connector\":\"MooncakeConnectorV1\",\"kv_role\":\"kv_producer\",\"kv_port\":30000,"
                + "\"kv_connector_extra_config\":{\"prefill\":{\"dp_size\":1,\"tp_size\":1}}}";
        try (SimNode narrow = SimNode.builder(dir).name("bad-tp").flags("--kv-transfer-config", narrowPrefill).env(env).launch();
                SimNode partial = SimNode.builder(dir).name("bad-blocks").flags("--kv-transfer-config", noDecodeBlock).env(env)
                        .launch();
                SimNode clash = SimNode.builder(dir).name("p-clash").flags(SimCluster.commonFlags())
                        .flags(SimCluster.pullKvFlags("kv_producer", "9", cluster.kvPort(), "")).env(env).launch()) {
            assertThat(narrow.awaitExit(EXIT)).isEqualTo(1);
            assertThat(narrow.log()).contains("ValueError: prefill_tp_size: 1 must be greater than or equal to the decode_tp_size: 2");
            assertThat(partial.awaitExit(EXIT)).isEqualTo(1);
            assertThat(partial.log()).contains("AssertionError: kv_connector_extra_config.decode needs");
            assertThat(clash.awaitExit(EXIT)).as("p0 holds the handshake port").isEqualTo(1);
            assertThat(clash.log()).contains("zmq.error.ZMQError: Address already in use");
        }
        // a prefiller told to advertise an address that is not this host's cannot bind its handshake there
        try (SimNode elsewhere = SimNode.builder(dir).name("p-elsewhere").flags(SimCluster.commonFlags())
                .flags(SimCluster.pullKvFlags("kv_producer", "10", SimNode.freePort(), "")).env(env)
                .env("VLLM_HOST_IP", "192.0.2.254").launch()) {
            assertThat(elsewhere.awaitExit(EXIT)).isEqualTo(1);
            assertThat(elsewhere.log()).contains("zmq.error.ZMQError: Cannot assign requested address (addr='tcp://192.0.2.254:");
        }
        // a pull-mode decoder binds no KV port: a second one on the same kv_port starts
        try (SimNode second = SimNode.builder(dir).name("d-second").flags(SimCluster.commonFlags())
                .flags(SimCluster.pullKvFlags("kv_consumer", "8", cluster.kvPort(), "")).env(env).start()) {
            assertThat(second.process().isAlive()).isTrue();
        }
    }

    @Test
    void theProxysTwoStepsMatchTheUpstreamScriptsCompletionsToo() {
        String id = UUID.randomUUID().toString();
        ObjectNode request = Http.JSON.createObjectNode().put("model", SimCluster.SERVED_NAME).put("prompt", "Once upon")
                .put("max_tokens", 3);
        ObjectNode first = request.deepCopy().put("stream", false).put("max_tokens", 1).put("min_tokens", 1);
        first.putObject("kv_transfer_params").put("do_remote_decode", true).put("do_remote_prefill", false);
        HttpResponse<String> prefilled = post(prefill.baseUrl() + "/v1/completions", first, Map.of("X-Request-Id", id));
        assertThat(prefilled.statusCode()).isEqualTo(200);
        JsonNode params = json(prefilled).get("kv_transfer_params");
        assertThat(params.path("remote_request_id").asText()).isEqualTo("cmpl-" + id + "-0");

        ObjectNode second = request.deepCopy();
        second.set("kv_transfer_params", params);
        HttpResponse<String> answer = post(decode.baseUrl() + "/v1/completions", second, Map.of("X-Request-Id", id));

        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        assertThat(json(answer).path("choices").path(0).path("text").asText()).isNotEmpty();
        assertThat(List.of(json(answer).path("usage").path("completion_tokens").asInt())).containsExactly(3);
    }
}
