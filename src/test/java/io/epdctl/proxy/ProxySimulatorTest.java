package io.epdctl.proxy;

import static io.epdctl.proxy.ProxyFixture.assertAllFreed;
import static io.epdctl.proxy.ProxyFixture.endpoints;
import static io.epdctl.proxy.ProxyFixture.parse;
import static io.epdctl.proxy.ProxyFixture.streamedText;
import static io.epdctl.proxy.ProxyFixture.with;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.epdctl.lifecycle.SmokeRequest;
import io.epdctl.testing.SimCluster;
import io.epdctl.testing.SimNode;
import io.epdctl.testing.SystemTest;
import io.epdctl.topology.ProxyTuning;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The proxy in front of real vllm-sim processes: both EPD modes, and each fault the proxy must make visible. */
@SystemTest
class ProxySimulatorTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final ProxyFixture fixture = new ProxyFixture("EPDCTL_PROXY_TEST");
    private final Map<String, String> env = fixture.env();

    @TempDir
    Path dir;

    @AfterEach
    void stopEverything() throws Exception {
        fixture.close();
    }

    private EpdProxy proxy(List<SimNode> encoders, List<SimNode> pd, List<SimNode> prefill, List<SimNode> decode) {
        ProxyConfig config = new ProxyConfig(new Endpoint("127.0.0.1", 0), new ProxyBackends(endpoints(encoders),
                endpoints(pd), endpoints(prefill), endpoints(decode)),
                new ProxyTuning(3, Duration.ofMillis(1), ProxyTuning.defaults().backendTimeout(), Duration.ofSeconds(60), 2));
        return fixture.proxy(config);
    }

    private SimNode pdNode(String name, SimCluster cluster, Map<String, String> faults) {
        return fixture.closing(SimNode.builder(dir).name(name).flags(SimCluster.commonFlags())
                .flags(cluster.ecFlags("ec_consumer")).env(env).env(faults).start());
    }

    /** A streamed chat request with one image, given as {@code imageUrl}. */
    private static String imageChat(String imageUrl, int maxTokens) {
        ObjectNode body = (ObjectNode) parse(SmokeRequest.chatBody(SimCluster.SERVED_NAME));
        body.put("stream", true).put("max_tokens", maxTokens);
        ((ObjectNode) body.get("messages").get(0).get("content").get(0).get("image_url")).put("url", imageUrl);
        return body.toString();
    }

    private static String dataUrlImage() {
        return parse(SmokeRequest.chatBody("m")).get("messages").get(0).get("content").get(0).get("image_url")
                .get("url").asText();
    }

    private static void eventually(String what, ThrowingCondition condition) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (!condition.holds()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("never happened: " + what);
            }
            Thread.sleep(20);
        }
    }

    private interface ThrowingCondition {
        boolean holds() throws Exception;
    }

    @Test
    void encoderThenPdWithImagesByDataUrlFilePathAndHttpUrl() throws Exception {
        SimCluster cluster = fixture.closing(SimCluster.onePd(dir, env));
        SimNode encoder = cluster.node("e0");
        SimNode pd = cluster.node("pd0");
        EpdProxy proxy = proxy(List.of(encoder), List.of(pd), List.of(), List.of());

        for (String image : List.of(dataUrlImage(), "file:///data/images/cat.png", "https://images.example.com/cat.png")) {
            HttpResponse<String> response = fixture.post(proxy, "/v1/chat/completions", imageChat(image, 12));
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            assertThat(response.headers().firstValue("content-type").orElseThrow()).startsWith("text/event-stream");
            assertThat(response.body()).endsWith("data: [DONE]\n\n");
            assertThat(streamedText(response.body())).isNotBlank();
        }
        HttpResponse<String> completion = fixture.post(proxy, "/v1/completions",
                "{\"model\":\"qwenvl\",\"prompt\":\"Say something\",\"max_tokens\":5}");

        assertThat(completion.statusCode()).as(completion.body()).isEqualTo(200);
        assertThat(parse(completion.body()).get("object").asText()).isEqualTo("text_completion");
        assertThat(encoder.metric("vllm_sim:ec_cache_saves_total")).isEqualTo(3);
        // every image the PD saw had been encoded first
        assertThat(pd.metric("vllm_sim:ec_cache_hits_total")).isEqualTo(3);
        assertThat(pd.metric("vllm_sim:ec_cache_misses_total")).isZero();
        assertThat(pd.metric("vllm:request_success_total")).isEqualTo(4);
        assertAllFreed(proxy);
    }

    @Test
    void encoderPrefillDecodeWithTheMetaserverRoundTrip() throws Exception {
        SimCluster cluster = fixture.closing(SimCluster.onePrefillOneDecode(dir, env));
        SimNode prefill = cluster.node("p0");
        SimNode decode = cluster.node("d0");
        EpdProxy proxy = proxy(List.of(cluster.node("e0")), List.of(), List.of(prefill), List.of(decode));

        HttpResponse<String> chat = fixture.post(proxy, "/v1/chat/completions", imageChat(dataUrlImage(), 10));
        HttpResponse<String> completion = fixture.post(proxy, "/v1/completions",
                "{\"model\":\"qwenvl\",\"prompt\":\"Say something\",\"max_tokens\":5}");

        assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
        assertThat(streamedText(chat.body())).isNotBlank();
        assertThat(completion.statusCode()).as(completion.body()).isEqualTo(200);
        assertThat(decode.metric("vllm_sim:kv_metaserver_callbacks_total")).isEqualTo(2);
        assertThat(decode.metric("vllm_sim:kv_metaserver_callback_failures_total")).as(decode.log()).isZero();
        assertThat(decode.metric("vllm_sim:kv_pushes_received_total")).isEqualTo(2);
        assertThat(prefill.metric("vllm_sim:kv_pushes_sent_total")).isEqualTo(2);
        assertThat(prefill.metric("vllm_sim:ec_cache_hits_total")).isEqualTo(1);
        assertThat(chat.headers().firstValue("x-request-id")).isPresent();
        assertThat(decode.log()).contains("chatcmpl-" + chat.headers().firstValue("x-request-id").orElseThrow());
        assertAllFreed(proxy);
    }

    @Test
    void deadAndUnhealthyPdNodesAreSkipped() throws Exception {
        SimCluster cluster = fixture.closing(SimCluster.onePd(dir, env));
        SimNode unhealthy = pdNode("pd-sick", cluster, Map.of("VLLM_SIM_HEALTH_STATUS", "503"));
        SimNode dying = pdNode("pd-dying", cluster, Map.of());
        EpdProxy proxy = proxy(List.of(cluster.node("e0")), List.of(dying, unhealthy, cluster.node("pd0")), List.of(),
                List.of());
        dying.close(); // SIGKILL: the proxy still believes it healthy until a request or a probe says otherwise

        for (int i = 0; i < 4; i++) {
            HttpResponse<String> response = fixture.post(proxy, "/v1/chat/completions", imageChat(dataUrlImage(), 4));
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        }

        assertThat(cluster.node("pd0").metric("vllm:request_success_total")).isEqualTo(4);
        assertThat(unhealthy.metric("vllm:request_success_total")).isZero();
        assertThat(fixture.log()).anyMatch(line -> line.contains("pd 127.0.0.1:" + dying.port() + " is down"));
        proxy.probeNow();
        HttpResponse<String> health = fixture.get(proxy, "/health");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).contains("127.0.0.1:" + dying.port(), "127.0.0.1:" + unhealthy.port() + ": GET /health answered 503");
    }

    @Test
    void aNodesErrorStatusReachesTheClientWithItsBody() throws Exception {
        SimCluster cluster = fixture.closing(SimCluster.onePrefillOneDecode(dir, env));
        EpdProxy proxy = proxy(List.of(cluster.node("e0")), List.of(), List.of(cluster.node("p0")),
                List.of(cluster.node("d0")));

        HttpResponse<String> wrongModel = fixture.post(proxy, "/v1/chat/completions",
                "{\"model\":\"nope\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        HttpResponse<String> tooLong = fixture.post(proxy, "/v1/completions",
                "{\"model\":\"qwenvl\",\"prompt\":\"hi\",\"max_tokens\":100000}");

        assertThat(wrongModel.statusCode()).isEqualTo(404);
        assertThat(parse(wrongModel.body()).get("error").get("message").asText()).isEqualTo("The model `nope` does not exist.");
        assertThat(tooLong.statusCode()).isEqualTo(400);
        assertThat(parse(tooLong.body()).get("error").get("message").asText()).contains("maximum context length");
        assertAllFreed(proxy);
    }

    @Test
    void aPdThatDiesMidStreamEndsTheClientsStreamWithAnError() throws Exception {
        SimCluster cluster = fixture.closing(SimCluster.onePd(dir, with(env,
                "VLLM_SIM_TOKEN_DELAY_MS", "50")));
        SimNode pd = cluster.node("pd0");
        EpdProxy proxy = proxy(List.of(cluster.node("e0")), List.of(pd), List.of(), List.of());

        String response;
        try (RawHttp client = RawHttp.post(proxy.port(), "/v1/chat/completions", imageChat(dataUrlImage(), 2000))) {
            String start = client.readUntil("\"content\":\"");
            pd.close(); // SIGKILL while it streams
            response = start + client.readToEnd();
        }

        assertThat(response).startsWith("HTTP/1.1 200").doesNotContain("[DONE]");
        assertThat(response).contains("data: {\"error\":{\"message\":\"pd 127.0.0.1:" + pd.port() + " broke off its answer");
        assertThat(RawHttp.endsWithLastChunk(response)).as("a complete-looking answer").isFalse();
        assertAllFreed(proxy);
    }

    @Test
    void aClientThatHangsUpCancelsTheNodesRequest() throws Exception {
        SimCluster cluster = fixture.closing(SimCluster.onePrefillOneDecode(dir, with(env,
                "VLLM_SIM_TOKEN_DELAY_MS", "20")));
        SimNode decode = cluster.node("d0");
        EpdProxy proxy = proxy(List.of(cluster.node("e0")), List.of(), List.of(cluster.node("p0")), List.of(decode));

        try (RawHttp client = RawHttp.post(proxy.port(), "/v1/chat/completions", imageChat(dataUrlImage(), 2000))) {
            client.readUntil("\"content\":\"");
            assertThat(decode.metric("vllm:num_requests_running")).isEqualTo(1);
        }

        // 2000 tokens would take 40 s: the decoder stops long before, without finishing the request
        eventually("the decoder dropped the request", () -> decode.metric("vllm:num_requests_running") == 0);
        assertThat(decode.metric("vllm:request_success_total")).isZero();
        assertThat(decode.metric("vllm:generation_tokens_total")).isLessThan(2000);
        assertAllFreed(proxy);
    }

}
