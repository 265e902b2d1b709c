package io.epdctl.proxy;

import static io.epdctl.proxy.ProxyFixture.assertAllFreed;
import static io.epdctl.proxy.ProxyFixture.endpoints;
import static io.epdctl.proxy.ProxyFixture.parse;
import static io.epdctl.proxy.ProxyFixture.streamedText;
import static io.epdctl.proxy.ProxyFixture.with;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.epdctl.lifecycle.SmokeRequest;
import io.epdctl.testing.SimCluster;
import io.epdctl.testing.SimNode;
import io.epdctl.testing.SystemTest;
import io.epdctl.topology.KvFlow;
import io.epdctl.topology.ProxyTuning;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy's pull flow (MooncakeConnectorV1) in front of real vllm-sim processes, in E+P+D and P+D: the
 * prefiller first, then the decoder with the prefiller's kv_transfer_params; a prefiller's and a decoder's
 * failure each reach the client as what they are.
 */
@SystemTest
class ProxyPullFlowTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final ProxyFixture fixture = new ProxyFixture("EPDCTL_PROXY_PULL_TEST");
    private final Map<String, String> env = with(fixture.env(), "VLLM_SIM_KV_TIMEOUT_MS", "3000");

    @TempDir
    Path dir;

    @AfterEach
    void stopEverything() throws Exception {
        fixture.close();
    }

    private EpdProxy proxy(List<SimNode> encoders, List<SimNode> prefill, List<SimNode> decode) {
        ProxyConfig config = new ProxyConfig(new Endpoint("127.0.0.1", 0), new ProxyBackends(endpoints(encoders),
                List.of(), endpoints(prefill), endpoints(decode)),
                new ProxyTuning(3, Duration.ofMillis(1), ProxyTuning.defaults().backendTimeout(), Duration.ofSeconds(60), 2),
                KvFlow.PULL);
        return fixture.proxy(config);
    }

    private SimNode prefiller(String name, int kvPort, Map<String, String> extraEnv) {
        return fixture.closing(SimNode.builder(dir).name(name).flags(SimCluster.commonFlags())
                .flags(SimCluster.pullKvFlags("kv_producer", name, kvPort, "")).env(env).env(extraEnv).start());
    }

    private SimNode decoder(String name) {
        return fixture.closing(SimNode.builder(dir).name(name).flags(SimCluster.commonFlags())
                .flags(SimCluster.pullKvFlags("kv_consumer", name, SimNode.freePort(), "")).env(env).start());
    }

    /** A streamed chat request with one image (a data URL). */
    private static String imageChat(int maxTokens) {
        ObjectNode body = (ObjectNode) parse(SmokeRequest.chatBody(SimCluster.SERVED_NAME));
        body.put("stream", true).put("max_tokens", maxTokens);
        return body.toString();
    }

    private static final String TEXT_CHAT = "{\"model\":\"qwenvl\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\","
            + "\"content\":\"Say something\"}]}";

    /** What goes to each backend, to the field: the upstream script's prefill request, then the decoder's. */
    @Test
    void thePrefillerGetsTheUpstreamScriptsRequestAndTheDecoderItsAnswersParams() throws Exception {
        TestBackend prefill = fixture.closing(TestBackend.start(io.epdctl.topology.Role.PREFILL));
        TestBackend decode = fixture.closing(TestBackend.start(io.epdctl.topology.Role.DECODE));
        decode.pullMode = true;
        ProxyConfig config = new ProxyConfig(new Endpoint("127.0.0.1", 0), new ProxyBackends(List.of(), List.of(),
                List.of(prefill.endpoint()), List.of(decode.endpoint())), ProxyTuning.defaults(), KvFlow.PULL);
        EpdProxy proxy = fixture.proxy(config);
        String original = "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                + "\"max_completion_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

        HttpResponse<String> response = fixture.post(proxy, "/v1/chat/completions", original);

        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(response.body()).contains("tok0", "[DONE]");
        assertThat(prefill.generations()).hasSize(1);
        JsonNode toPrefiller = prefill.generations().get(0).body();
        ObjectNode expected = (ObjectNode) parse(original);
        expected.put("stream", false).put("max_completion_tokens", 1).put("max_tokens", 1).put("min_tokens", 1);
        expected.remove("stream_options");
        expected.set("kv_transfer_params", parse("{\"do_remote_decode\":true,\"do_remote_prefill\":false,"
                + "\"remote_engine_id\":null,\"remote_block_ids\":null,\"remote_host\":null,\"remote_port\":null}"));
        assertThat(toPrefiller).isEqualTo(expected);
        JsonNode toDecoder = decode.generations().get(0).body();
        ObjectNode decoderExpected = (ObjectNode) parse(original);
        decoderExpected.set("kv_transfer_params", parse("{\"from\":\"prefill\"}")); // the prefiller's answer's
        assertThat(toDecoder).isEqualTo(decoderExpected);
        String id = response.headers().firstValue("x-request-id").orElseThrow();
        assertThat(List.of(prefill.generations().get(0).requestId(), decode.generations().get(0).requestId()))
                .containsOnly(id);
        assertThat(decode.metaserverStatuses).as("no metaserver call in pull mode").isEmpty();
        assertAllFreed(proxy);
    }

    @Test
    void encoderPrefillThenDecodeWithThePrefillersKvTransferParams() throws Exception {
        SimCluster cluster = fixture.closing(SimCluster.onePrefillOneDecodePull(dir, env));
        SimNode encoder = cluster.node("e0");
        SimNode prefill = cluster.node("p0");
        SimNode decode = cluster.node("d0");
        EpdProxy proxy = proxy(List.of(encoder), List.of(prefill), List.of(decode));

        HttpResponse<String> chat = fixture.post(proxy, "/v1/chat/completions", imageChat(10));
        HttpResponse<String> completion = fixture.post(proxy, "/v1/completions",
                "{\"model\":\"qwenvl\",\"prompt\":\"Say something\",\"max_tokens\":5}");

        assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
        assertThat(chat.body()).endsWith("data: [DONE]\n\n");
        assertThat(streamedText(chat.body())).isNotBlank();
        assertThat(completion.statusCode()).as(completion.body()).isEqualTo(200);
        assertThat(encoder.metric("vllm_sim:ec_cache_saves_total")).isEqualTo(1);
        assertThat(prefill.metric("vllm_sim:ec_cache_hits_total")).isEqualTo(1);
        assertThat(prefill.metric("vllm_sim:kv_pull_shares_served_total")).isEqualTo(2);
        assertThat(prefill.metric("vllm_sim:kv_held_requests")).as("every KV was pulled").isZero();
        assertThat(decode.metric("vllm_sim:kv_pulls_total")).isEqualTo(2);
        assertThat(decode.metric("vllm_sim:kv_pull_failures_total")).isZero();
        assertThat(decode.metric("vllm_sim:kv_metaserver_callbacks_total")).as("no metaserver in pull mode").isZero();
        // one X-Request-Id for both steps, as the upstream script sends: the decoder pulls the prefiller's request
        String id = chat.headers().firstValue("x-request-id").orElseThrow();
        assertThat(prefill.log()).contains("Delaying free of 1 blocks for request chatcmpl-" + id);
        assertThat(decode.log()).contains("Pulled KV of chatcmpl-" + id, "from 127.0.0.1:" + cluster.kvPort());
        assertThat(proxy.metaserverUrl()).isNotBlank();
        assertAllFreed(proxy);
    }

    @Test
    void prefillAndDecodeWithoutEncodersSpreadOverTwoPrefillers() throws Exception {
        SimNode p0 = prefiller("p0", SimNode.freePort(), Map.of());
        SimNode p1 = prefiller("p1", SimNode.freePort(), Map.of());
        SimNode decode = decoder("d0");
        EpdProxy proxy = proxy(List.of(), List.of(p0, p1), List.of(decode));

        for (int i = 0; i < 4; i++) {
            HttpResponse<String> response = fixture.post(proxy, "/v1/chat/completions", TEXT_CHAT);
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            assertThat(parse(response.body()).path("choices").path(0).path("message").path("content").asText()).isNotBlank();
        }

        assertThat(p0.metric("vllm_sim:kv_pull_shares_served_total") + p1.metric("vllm_sim:kv_pull_shares_served_total"))
                .isEqualTo(4);
        assertThat(p0.metric("vllm_sim:kv_pull_shares_served_total")).as("both prefillers served").isPositive();
        assertThat(p1.metric("vllm_sim:kv_pull_shares_served_total")).isPositive();
        assertThat(decode.metric("vllm_sim:kv_pulls_total")).isEqualTo(4);
        assertAllFreed(proxy);
    }

    @Test
    void aPrefillerThatFailsFailsTheRequestWithoutTheDecoder() throws Exception {
        SimNode prefill = prefiller("p0", SimNode.freePort(), Map.of("VLLM_SIM_CRASH_AFTER_REQUESTS", "1"));
        SimNode decode = decoder("d0");
        EpdProxy proxy = proxy(List.of(), List.of(prefill), List.of(decode));

        HttpResponse<String> tooLong = fixture.post(proxy, "/v1/completions", "{\"model\":\"qwenvl\",\"prompt\":\"hi\",\"max_tokens\":100000}");
        assertThat(prefill.awaitExit(Duration.ofSeconds(30))).as("crashed after its one request").isEqualTo(1);
        HttpResponse<String> dead = fixture.post(proxy, "/v1/chat/completions", TEXT_CHAT);

        // the prefiller's own error, as it answered it
        assertThat(tooLong.statusCode()).isEqualTo(400);
        assertThat(parse(tooLong.body()).path("error").path("message").asText()).contains("maximum context length");
        // a prefiller that is gone: the proxy's verdict names it
        assertThat(dead.statusCode()).as(dead.body()).isBetween(502, 503);
        assertThat(dead.body()).contains("prefill 127.0.0.1:" + prefill.port());
        assertThat(decode.metric("vllm:request_success_total")).as("no decoder was asked").isZero();
        assertThat(decode.metric("vllm_sim:kv_pulls_total")).isZero();
        assertAllFreed(proxy);
    }

    @Test
    void aPrefillerThatIsNoPullProducerIsReportedNotPassedOverSilently() throws Exception {
        // an instance without the pull connector answers without kv_transfer_params: nothing for the decoder to pull
        SimNode plain = fixture.closing(SimNode.builder(dir).name("p-plain").flags(SimCluster.commonFlags()).env(env).start());
        SimNode decode = decoder("d-pull");
        EpdProxy proxy = proxy(List.of(), List.of(plain), List.of(decode));

        HttpResponse<String> response = fixture.post(proxy, "/v1/chat/completions", TEXT_CHAT);

        assertThat(response.statusCode()).isEqualTo(502);
        assertThat(parse(response.body()).path("error").path("message").asText())
                .contains("the prefiller's answer carries no kv_transfer_params");
        assertThat(decode.metric("vllm:request_success_total")).isZero();
        assertAllFreed(proxy);
    }

    @Test
    void aDecoderThatCannotPullFailsTheRequestWithItsError() throws Exception {
        // the prefiller frees the KV at once (VLLM_MOONCAKE_ABORT_REQUEST_TIMEOUT=0): the decoder's pull finds none
        SimNode prefill = prefiller("p0", SimNode.freePort(), Map.of("VLLM_MOONCAKE_ABORT_REQUEST_TIMEOUT", "0"));
        SimNode decode = decoder("d0");
        EpdProxy proxy = proxy(List.of(), List.of(prefill), List.of(decode));

        HttpResponse<String> streamed = fixture.post(proxy, "/v1/chat/completions",
                ((ObjectNode) parse(TEXT_CHAT)).put("stream", true).toString());
        HttpResponse<String> whole = fixture.post(proxy, "/v1/completions", "{\"model\":\"qwenvl\",\"prompt\":\"hi\",\"max_tokens\":3}");

        for (HttpResponse<String> response : List.of(streamed, whole)) {
            assertThat(response.statusCode()).as(response.body()).isEqualTo(500);
            assertThat(parse(response.body()).path("error").path("message").asText())
                    .contains("Failed to transfer KV cache for request", "freed after the abort timeout");
            assertThat(response.body()).doesNotContain("[DONE]");
        }
        assertThat(decode.metric("vllm_sim:kv_pull_failures_total")).isEqualTo(2);
        assertThat(decode.metric("vllm:request_success_total")).isZero();
        assertAllFreed(proxy);
    }
}
