package io.epdctl.proxy;

import static io.epdctl.proxy.ProxyFixture.assertAllFreed;
import static io.epdctl.proxy.ProxyFixture.endpoints;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.epdctl.testing.SimCluster;
import io.epdctl.testing.SimNode;
import io.epdctl.testing.SystemTest;
import io.epdctl.topology.ProxyTuning;
import io.epdctl.topology.ProxyTuning.EncoderDispatch;
import io.epdctl.topology.Role;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * --encoder-dispatch-mode fanout: a request's images go to the encoders one per request, in parallel; the
 * generating node finds every one in the EC cache. Through real vllm-sim processes (E x2 + PD, E x2 + P + D),
 * and against test backends for what each encoder request carries and for failures.
 */
@SystemTest
class ProxyFanoutTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final ProxyFixture fixture = new ProxyFixture("EPDCTL_PROXY_TEST");
    private final Map<String, String> env = fixture.env();

    @TempDir
    Path dir;

    @AfterEach
    void stopEverything() throws Exception {
        fixture.close();
    }

    private EpdProxy proxy(EncoderDispatch dispatch, List<Endpoint> encoders, List<Endpoint> pd, List<Endpoint> prefill,
            List<Endpoint> decode) {
        ProxyConfig config = new ProxyConfig(new Endpoint("127.0.0.1", 0), new ProxyBackends(encoders, pd, prefill, decode),
                new ProxyTuning(3, Duration.ofMillis(1), ProxyTuning.defaults().backendTimeout(), Duration.ofSeconds(60), 2)
                        .withEncoderDispatch(dispatch));
        return fixture.proxy(config);
    }

    private static List<Endpoint> sims(SimNode... nodes) {
        return endpoints(List.of(nodes));
    }

    private static List<Endpoint> tests(TestBackend... backends) {
        return List.of(backends).stream().map(TestBackend::endpoint).toList();
    }

    /** A second encoder of {@code cluster}, writing to its EC directory. */
    private SimNode secondEncoder(SimCluster cluster) {
        return fixture.closing(SimNode.builder(dir).name("e1").flags(SimCluster.commonFlags()).flags(cluster.encoderFlags())
                .env("ASCEND_RT_VISIBLE_DEVICES", "2").env(env).start());
    }

    /** A streamed chat request with text between {@code images}, distinct to this test run. */
    private static String imagesChat(int images) {
        ObjectNode body = JSON.createObjectNode().put("model", SimCluster.SERVED_NAME).put("stream", true)
                .put("max_tokens", 6);
        ArrayNode content = body.putArray("messages").addObject().put("role", "user").putArray("content");
        String run = UUID.randomUUID().toString();
        for (int i = 0; i < images; i++) {
            content.addObject().put("type", "image_url").putObject("image_url")
                    .put("url", "file:///data/images/" + run + "-" + i + ".png");
            content.addObject().put("type", "text").put("text", "Picture " + i + ".");
        }
        content.addObject().put("type", "text").put("text", "Which of them is brightest?");
        return body.toString();
    }

    private HttpResponse<String> post(EpdProxy proxy, String body) throws Exception {
        return fixture.post(proxy, "/v1/chat/completions", body);
    }

    private static void assertStreamedAnswer(HttpResponse<String> response) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(response.body()).contains("\"content\":").endsWith("data: [DONE]\n\n");
    }

    @Test
    void twoEncodersAndAPdThreeImagesFannedOutEachFoundInTheCache() throws Exception {
        SimCluster cluster = fixture.closing(SimCluster.onePd(dir, env));
        SimNode e0 = cluster.node("e0");
        SimNode e1 = secondEncoder(cluster);
        SimNode pd = cluster.node("pd0");
        EpdProxy proxy = proxy(EncoderDispatch.FANOUT, sims(e0, e1), sims(pd), List.of(), List.of());

        assertStreamedAnswer(post(proxy, imagesChat(3)));

        double e0Requests = e0.metric("vllm:request_success_total");
        double e1Requests = e1.metric("vllm:request_success_total");
        assertThat(e0Requests + e1Requests).as("one encoder request per image").isEqualTo(3);
        assertThat(e0Requests).as("e0's share").isPositive();
        assertThat(e1Requests).as("e1's share").isPositive();
        assertThat(e0.metric("vllm_sim:ec_cache_saves_total") + e1.metric("vllm_sim:ec_cache_saves_total")).isEqualTo(3);
        assertThat(pd.metric("vllm_sim:ec_cache_hits_total")).isEqualTo(3);
        assertThat(pd.metric("vllm_sim:ec_cache_misses_total")).as(pd.log()).isZero();
        assertThat(pd.metric("vllm:request_success_total")).isEqualTo(1);
        assertAllFreed(proxy);
    }

    @Test
    void twoEncodersPrefillAndDecodeThreeImagesFannedOutEachFoundInTheCache() throws Exception {
        SimCluster cluster = fixture.closing(SimCluster.onePrefillOneDecode(dir, env));
        SimNode e0 = cluster.node("e0");
        SimNode e1 = secondEncoder(cluster);
        SimNode prefill = cluster.node("p0");
        SimNode decode = cluster.node("d0");
        EpdProxy proxy = proxy(EncoderDispatch.FANOUT, sims(e0, e1), List.of(), sims(prefill), sims(decode));

        assertStreamedAnswer(post(proxy, imagesChat(3)));

        assertThat(e0.metric("vllm:request_success_total")).isPositive();
        assertThat(e1.metric("vllm:request_success_total")).isPositive();
        assertThat(e0.metric("vllm:request_success_total") + e1.metric("vllm:request_success_total")).isEqualTo(3);
        assertThat(prefill.metric("vllm_sim:ec_cache_hits_total")).isEqualTo(3);
        assertThat(prefill.metric("vllm_sim:ec_cache_misses_total")).as(prefill.log()).isZero();
        assertThat(prefill.metric("vllm_sim:kv_pushes_sent_total")).isEqualTo(1);
        assertThat(decode.metric("vllm_sim:kv_pushes_received_total")).isEqualTo(1);
        assertAllFreed(proxy);
    }

    @Test
    void singleModeSendsTheWholeRequestToOneEncoderAsBefore() throws Exception {
        SimCluster cluster = fixture.closing(SimCluster.onePd(dir, env));
        SimNode e0 = cluster.node("e0");
        SimNode e1 = secondEncoder(cluster);
        SimNode pd = cluster.node("pd0");
        EpdProxy proxy = proxy(EncoderDispatch.SINGLE, sims(e0, e1), sims(pd), List.of(), List.of());

        assertStreamedAnswer(post(proxy, imagesChat(3)));

        assertThat(e0.metric("vllm:request_success_total") + e1.metric("vllm:request_success_total")).isEqualTo(1);
        assertThat(e0.metric("vllm_sim:ec_cache_saves_total") + e1.metric("vllm_sim:ec_cache_saves_total")).isEqualTo(3);
        assertThat(pd.metric("vllm_sim:ec_cache_hits_total")).isEqualTo(3);
        assertThat(pd.metric("vllm_sim:ec_cache_misses_total")).isZero();
        assertAllFreed(proxy);
    }

    @Test
    void eachEncoderRequestCarriesOneItemUnderItsOwnIdAndTheyAreSpreadOverTheEncoders() throws Exception {
        TestBackend a = fixture.closing(TestBackend.start(Role.ENCODER));
        TestBackend b = fixture.closing(TestBackend.start(Role.ENCODER));
        TestBackend c = fixture.closing(TestBackend.start(Role.ENCODER));
        TestBackend pd = fixture.closing(TestBackend.start(Role.PD));
        EpdProxy proxy = proxy(EncoderDispatch.FANOUT, tests(a, b, c), tests(pd), List.of(), List.of());
        String request = imagesChat(3);

        HttpResponse<String> response = post(proxy, request);

        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        String id = response.headers().firstValue("x-request-id").orElseThrow();
        List<JsonNode> items = new ArrayList<>();
        JSON.readTree(request).path("messages").path(0).path("content").forEach(part -> {
            if (part.path("type").asText().equals("image_url")) {
                items.add(part);
            }
        });
        List<TestBackend.Received> received = new ArrayList<>();
        for (TestBackend encoder : List.of(a, b, c)) {
            assertThat(encoder.generations()).as("one item on each of three idle encoders").hasSize(1);
            received.addAll(encoder.generations());
        }
        for (int i = 0; i < 3; i++) {
            String subId = id + ":" + i;
            TestBackend.Received sub = received.stream().filter(r -> subId.equals(r.requestId())).findFirst().orElseThrow();
            assertThat(sub.body()).isEqualTo(JSON.readTree("{\"model\":\"qwenvl\",\"messages\":[{\"role\":\"user\","
                    + "\"content\":[" + items.get(i) + "]}],\"stream\":false,\"max_tokens\":1,\"min_tokens\":1}"));
        }
        assertThat(pd.generations()).hasSize(1);
        assertThat(pd.generations().get(0).requestId()).isEqualTo(id);
        assertThat(pd.generations().get(0).body()).isEqualTo(JSON.readTree(request));
        assertAllFreed(proxy);
    }

    @Test
    void oneImageOrNoneGoesAsInSingleMode() throws Exception {
        TestBackend encoder = fixture.closing(TestBackend.start(Role.ENCODER));
        TestBackend pd = fixture.closing(TestBackend.start(Role.PD));
        EpdProxy proxy = proxy(EncoderDispatch.FANOUT, tests(encoder), tests(pd), List.of(), List.of());
        String oneImage = imagesChat(1);

        HttpResponse<String> withOne = post(proxy, oneImage);
        HttpResponse<String> textOnly = post(proxy, "{\"model\":\"qwenvl\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");

        assertThat(withOne.statusCode()).isEqualTo(200);
        assertThat(textOnly.statusCode()).isEqualTo(200);
        assertThat(encoder.generations()).hasSize(1);
        TestBackend.Received sent = encoder.generations().get(0);
        assertThat(sent.requestId()).isEqualTo(withOne.headers().firstValue("x-request-id").orElseThrow());
        assertThat(sent.body()).isEqualTo(RequestBodies.oneToken((ObjectNode) JSON.readTree(oneImage)));
        assertAllFreed(proxy);
    }

    @Test
    void anEncoderThatClosesItsConnectionsHasItsItemsRetriedOnTheOthers() throws Exception {
        TestBackend good = fixture.closing(TestBackend.start(Role.ENCODER));
        TestBackend closing = fixture.closing(TestBackend.start(Role.ENCODER));
        TestBackend pd = fixture.closing(TestBackend.start(Role.PD));
        EpdProxy proxy = proxy(EncoderDispatch.FANOUT, tests(good, closing), tests(pd), List.of(), List.of());
        closing.dropAll = true;

        HttpResponse<String> response = post(proxy, imagesChat(4));

        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        String id = response.headers().firstValue("x-request-id").orElseThrow();
        assertThat(closing.dropped.get()).as("items first sent to the closing encoder").isPositive();
        assertThat(good.generations()).extracting(TestBackend.Received::requestId)
                .containsExactlyInAnyOrder(id + ":0", id + ":1", id + ":2", id + ":3");
        assertThat(pd.generations()).hasSize(1);
        assertAllFreed(proxy);
    }

    @Test
    void anItemThatFailsFailsTheRequestNamingTheItemAndTheEncoderAndNothingGoesOn() throws Exception {
        TestBackend a = fixture.closing(TestBackend.start(Role.ENCODER));
        TestBackend b = fixture.closing(TestBackend.start(Role.ENCODER));
        TestBackend pd = fixture.closing(TestBackend.start(Role.PD));
        EpdProxy proxy = proxy(EncoderDispatch.FANOUT, tests(a, b), tests(pd), List.of(), List.of());
        a.dropAll = true;
        b.dropAll = true;

        HttpResponse<String> unreachable = post(proxy, imagesChat(3));
        a.dropAll = false;
        b.dropAll = false;
        b.errorStatus = 422;
        b.errorBody = "{\"error\":{\"message\":\"image too large\"}}";
        HttpResponse<String> refused = post(proxy, imagesChat(2));

        assertThat(unreachable.statusCode()).isEqualTo(502);
        assertThat(JSON.readTree(unreachable.body()).path("error").path("message").asText())
                .matches("item [123] of 3 \\(image_url\\): encoder 127\\.0\\.0\\.1:(" + a.port() + "|" + b.port()
                        + ") failed before answering: .*");
        // an encoder's own error reaches the client as it came, as in single mode
        assertThat(refused.statusCode()).isEqualTo(422);
        assertThat(refused.body()).isEqualTo("{\"error\":{\"message\":\"image too large\"}}");
        assertThat(pd.generations()).as("no request goes on to the PD").isEmpty();
        assertAllFreed(proxy);
    }
}
