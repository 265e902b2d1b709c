package io.epdctl.proxy;

import static io.epdctl.proxy.ProxyFixture.assertAllFreed;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.testing.SystemTest;
import io.epdctl.topology.ProxyTuning;
import io.epdctl.topology.Role;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The proxy against real HTTP servers playing each vLLM role. */
@SystemTest
class EpdProxyTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String IMAGE_CHAT = """
            {"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":20,
             "messages":[{"role":"user","content":[
               {"type":"image_url","image_url":{"url":"https://images.example.invalid/cat.png"}},
               {"type":"text","text":"What is in the image?"}]}]}""";
    private static final String TEXT_CHAT = """
            {"model":"m","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"Hello"}]}""";

    private final List<AutoCloseable> resources = new ArrayList<>();
    private final List<String> log = new CopyOnWriteArrayList<>();
    private final HttpClient http = HttpClient.newHttpClient();

    @AfterEach
    void closeEverything() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    private TestBackend backend(Role role) throws Exception {
        TestBackend backend = TestBackend.start(role);
        resources.add(backend);
        return backend;
    }

    private EpdProxy proxy(List<TestBackend> encoders, List<TestBackend> pd, List<TestBackend> prefill,
            List<TestBackend> decode) {
        return proxy(encoders, pd, prefill, decode, ProxyTuning.defaults().backendTimeout());
    }

    private EpdProxy proxy(List<TestBackend> encoders, List<TestBackend> pd, List<TestBackend> prefill,
            List<TestBackend> decode, Duration backendTimeout) {
        ProxyConfig config = new ProxyConfig(new Endpoint("127.0.0.1", 0), new ProxyBackends(endpoints(encoders),
                endpoints(pd), endpoints(prefill), endpoints(decode)),
                new ProxyTuning(3, Duration.ofMillis(1), backendTimeout, Duration.ofSeconds(60), 2));
        EpdProxy proxy = EpdProxy.start(config, log::add, Duration.ofSeconds(30));
        resources.add(proxy);
        return proxy;
    }

    private static List<Endpoint> endpoints(List<TestBackend> backends) {
        return backends.stream().map(TestBackend::endpoint).toList();
    }

    private HttpResponse<String> post(EpdProxy proxy, String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** {@code count} requests sent at once, each answered in full. */
    private List<HttpResponse<String>> postAtOnce(EpdProxy proxy, String path, String body, int count) {
        List<CompletableFuture<HttpResponse<String>>> sent = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            sent.add(http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + path))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        return sent.stream().map(CompletableFuture::join).toList();
    }

    /** How many attempts of the client request {@code response} answers reached {@code backend}. */
    private static long attempts(TestBackend backend, HttpResponse<String> response) {
        String id = response.headers().firstValue("x-request-id").orElseThrow();
        return backend.generations().stream().filter(request -> id.equals(request.requestId())).count();
    }

    private HttpResponse<String> get(EpdProxy proxy, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Waits for something another thread does; fails after a minute rather than hang. */
    private static void eventually(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("never happened: " + what);
            }
            Thread.sleep(10);
        }
    }

    @Test
    void imageRequestGoesToTheEncoderAsOneTokenThenStreamsFromPd() throws Exception {
        TestBackend encoder = backend(Role.ENCODER);
        TestBackend pd = backend(Role.PD);
        EpdProxy proxy = proxy(List.of(encoder), List.of(pd), List.of(), List.of());

        HttpResponse<String> response = post(proxy, "/v1/chat/completions", IMAGE_CHAT);

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValueSatisfying(
                type -> assertThat(type).startsWith("text/event-stream"));
        assertThat(response.body()).isEqualTo("""
                data: {"choices":[{"index":0,"delta":{"content":"tok0"}}]}

                data: {"choices":[{"index":0,"delta":{"content":"tok1"}}]}

                data: {"choices":[{"index":0,"delta":{"content":"tok2"}}]}

                data: [DONE]

                """);
        JsonNode toEncoder = encoder.generations().get(0).body();
        assertThat(toEncoder.get("stream").asBoolean()).isFalse();
        assertThat(toEncoder.get("max_tokens").asInt()).isEqualTo(1);
        assertThat(toEncoder.get("min_tokens").asInt()).isEqualTo(1);
        assertThat(toEncoder.has("stream_options")).isFalse();
        assertThat(toEncoder.get("messages")).isEqualTo(JSON.readTree(IMAGE_CHAT).get("messages"));
        assertThat(pd.generations().get(0).body()).isEqualTo(JSON.readTree(IMAGE_CHAT));
        String requestId = response.headers().firstValue("x-request-id").orElseThrow();
        assertThat(encoder.generations().get(0).requestId()).isEqualTo(requestId);
        assertThat(pd.generations().get(0).requestId()).isEqualTo(requestId);
        assertAllFreed(proxy);
    }

    @Test
    void textRequestsSkipTheEncoderAndCompletionsWorkToo() throws Exception {
        TestBackend encoder = backend(Role.ENCODER);
        TestBackend pd = backend(Role.PD);
        EpdProxy proxy = proxy(List.of(encoder), List.of(pd), List.of(), List.of());

        HttpResponse<String> chat = post(proxy, "/v1/chat/completions", TEXT_CHAT);
        HttpResponse<String> completion = post(proxy, "/v1/completions", "{\"model\":\"m\",\"prompt\":\"Hi\"}");

        assertThat(chat.statusCode()).isEqualTo(200);
        assertThat(completion.statusCode()).isEqualTo(200);
        assertThat(completion.body()).isEqualTo("{\"id\":\"whole\",\"choices\":[{\"index\":0,\"text\":\"toktoktok\"}]}");
        assertThat(encoder.generations()).isEmpty();
        assertThat(pd.generations()).extracting(TestBackend.Received::path)
                .containsExactly("/v1/chat/completions", "/v1/completions");
    }

    @Test
    void disaggregatedRequestsGoThroughTheMetaserverToThePrefiller() throws Exception {
        TestBackend encoder = backend(Role.ENCODER);
        TestBackend prefill = backend(Role.PREFILL);
        TestBackend decode = backend(Role.DECODE);
        EpdProxy proxy = proxy(List.of(encoder), List.of(), List.of(prefill), List.of(decode));

        HttpResponse<String> chat = post(proxy, "/v1/chat/completions", IMAGE_CHAT);
        HttpResponse<String> completion = post(proxy, "/v1/completions",
                "{\"model\":\"m\",\"prompt\":\"Hi\",\"max_completion_tokens\":9}");

        assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
        assertThat(chat.body()).contains("tok0", "tok2", "[DONE]");
        assertThat(completion.statusCode()).as(completion.body()).isEqualTo(200);
        assertThat(decode.metaserverStatuses).containsExactly(200, 200);
        JsonNode toDecoder = decode.generations().get(0).body();
        assertThat(toDecoder.get("kv_transfer_params")).isEqualTo(JSON.readTree(
                "{\"do_remote_decode\":false,\"do_remote_prefill\":true,\"metaserver\":\"http://127.0.0.1:"
                        + proxy.port() + "/v1/metaserver\"}"));
        assertThat(toDecoder.get("stream").asBoolean()).isTrue();
        JsonNode toPrefiller = prefill.generations().get(0).body();
        assertThat(toPrefiller.get("kv_transfer_params").get("request_id").asText())
                .isEqualTo("chatcmpl-" + chat.headers().firstValue("x-request-id").orElseThrow());
        assertThat(toPrefiller.get("kv_transfer_params").get("remote_port").asInt()).isEqualTo(30000);
        assertThat(toPrefiller.get("stream").asBoolean()).isFalse();
        assertThat(toPrefiller.get("max_tokens").asInt()).isEqualTo(1);
        assertThat(toPrefiller.has("stream_options")).isFalse();
        JsonNode completionToPrefiller = prefill.generations().get(1).body();
        assertThat(completionToPrefiller.get("kv_transfer_params").get("request_id").asText())
                .isEqualTo("cmpl-" + completion.headers().firstValue("x-request-id").orElseThrow() + "-0");
        assertThat(completionToPrefiller.get("max_completion_tokens").asInt()).isEqualTo(1);
        String requestId = chat.headers().firstValue("x-request-id").orElseThrow();
        assertThat(List.of(encoder.generations().get(0).requestId(), decode.generations().get(0).requestId(),
                prefill.generations().get(0).requestId())).containsOnly(requestId);
        assertAllFreed(proxy);
    }

    @Test
    void metaserverCallsForUnknownRequestsAreRefused() throws Exception {
        EpdProxy proxy = proxy(List.of(), List.of(), List.of(backend(Role.PREFILL)), List.of(backend(Role.DECODE)));

        HttpResponse<String> response = post(proxy, "/v1/metaserver",
                "{\"request_id\":\"chatcmpl-00000000-0000-0000-0000-000000000000\"}");

        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(response.body()).contains("no request is waiting for a prefill");
    }

    @Test
    void deadAndUnhealthyBackendsAreSkipped() throws Exception {
        TestBackend live = backend(Role.PD);
        TestBackend sick = backend(Role.PD);
        sick.healthStatus = 503;
        TestBackend dead = TestBackend.start(Role.PD);
        Endpoint deadEndpoint = dead.endpoint();
        dead.close();
        ProxyConfig config = new ProxyConfig(new Endpoint("127.0.0.1", 0), new ProxyBackends(List.of(),
                List.of(deadEndpoint, sick.endpoint(), live.endpoint()), List.of(), List.of()),
                new ProxyTuning(3, Duration.ZERO, ProxyTuning.defaults().backendTimeout(), Duration.ofSeconds(60), 1));
        EpdProxy proxy = EpdProxy.start(config, log::add, Duration.ofSeconds(30));
        resources.add(proxy);

        for (int i = 0; i < 6; i++) {
            assertThat(post(proxy, "/v1/chat/completions", TEXT_CHAT).statusCode()).isEqualTo(200);
        }

        assertThat(live.generations()).hasSize(6);
        assertThat(sick.generations()).isEmpty();
        HttpResponse<String> health = get(proxy, "/health");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).contains("pd " + deadEndpoint, "pd " + sick.endpoint() + ": GET /health answered 503");
        assertThat(log).anyMatch(line -> line.contains("pd " + sick.endpoint() + " is down"));
    }

    @Test
    void aBackendThatDiesIsRetriedOnAnotherBeforeTheFirstByte() throws Exception {
        TestBackend first = backend(Role.PD);
        TestBackend second = backend(Role.PD);
        EpdProxy proxy = proxy(List.of(), List.of(first, second), List.of(), List.of());
        first.close();
        resources.remove(first);

        for (int i = 0; i < 4; i++) {
            HttpResponse<String> response = post(proxy, "/v1/chat/completions", TEXT_CHAT);
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        }

        assertThat(second.generations()).hasSize(4);
        assertThat(log).anyMatch(line -> line.contains("pd " + first.endpoint() + " is down"));
    }

    @Test
    void connectionsClosedBeforeAnyAnswerAreRetriedOnAnotherBackendAndNoClientSeesThem() throws Exception {
        TestBackend encoderA = backend(Role.ENCODER);
        TestBackend encoderB = backend(Role.ENCODER);
        TestBackend pd = backend(Role.PD);
        encoderA.dropShare = 0.5;
        encoderB.dropShare = 0.5;
        pd.dropShare = 0.25;
        EpdProxy proxy = proxy(List.of(encoderA, encoderB), List.of(pd), List.of(), List.of());

        List<HttpResponse<String>> responses = postAtOnce(proxy, "/v1/chat/completions", IMAGE_CHAT, 40);

        assertThat(responses).allSatisfy(response -> {
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            assertThat(response.body()).endsWith("data: [DONE]\n\n");
        });
        assertThat(encoderA.dropped.get() + encoderB.dropped.get()).isGreaterThanOrEqualTo(20);
        assertThat(pd.dropped.get()).isGreaterThanOrEqualTo(10);
        for (HttpResponse<String> response : responses) {
            long onA = attempts(encoderA, response);
            long onB = attempts(encoderB, response);
            assertThat(onA + onB).as("encoder attempts, at most --max-retries").isBetween(1L, 3L);
            if (onA + onB > 1) {
                assertThat(List.of(onA, onB)).as("the retry went to the other encoder").doesNotContain(0L);
            }
            assertThat(attempts(pd, response)).as("attempts on the only PD").isBetween(1L, 2L);
        }
        // no attempt beyond the ones the drops made necessary
        assertThat(encoderA.generations().size() + encoderB.generations().size())
                .isEqualTo(40 + encoderA.dropped.get() + encoderB.dropped.get());
        assertThat(pd.generations()).hasSize(40 + pd.dropped.get());
        assertThat(log).noneMatch(line -> line.contains("is down"));
        assertAllFreed(proxy);
    }

    @Test
    void disaggregatedCallsClosedBeforeAnyAnswerAreRetriedPrefillsAndDecodersAlike() throws Exception {
        TestBackend prefill = backend(Role.PREFILL);
        TestBackend decodeA = backend(Role.DECODE);
        TestBackend decodeB = backend(Role.DECODE);
        prefill.dropShare = 0.5;
        decodeA.dropShare = 0.5;
        decodeB.dropShare = 0.5;
        EpdProxy proxy = proxy(List.of(), List.of(), List.of(prefill), List.of(decodeA, decodeB));

        List<HttpResponse<String>> responses = postAtOnce(proxy, "/v1/chat/completions", TEXT_CHAT, 20);

        assertThat(responses).allSatisfy(response -> {
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            assertThat(response.body()).contains("tok2", "[DONE]");
        });
        assertThat(prefill.dropped.get()).isEqualTo(10);
        assertThat(decodeA.dropped.get() + decodeB.dropped.get()).isGreaterThanOrEqualTo(10);
        for (HttpResponse<String> response : responses) {
            assertThat(attempts(prefill, response)).isBetween(1L, 2L);
            assertThat(attempts(decodeA, response) + attempts(decodeB, response)).isBetween(1L, 3L);
        }
        assertThat(prefill.generations()).hasSize(20 + 10);
        assertThat(decodeA.metaserverStatuses).containsOnly(200);
        assertThat(decodeB.metaserverStatuses).containsOnly(200);
        assertThat(decodeA.metaserverStatuses.size() + decodeB.metaserverStatuses.size()).isEqualTo(20);
        assertAllFreed(proxy);
    }

    @Test
    void aOneTokenAnswerThatBreaksOffIsRetriedForNothingOfItReachedTheClient() throws Exception {
        TestBackend encoder = backend(Role.ENCODER);
        encoder.answersToBreak.set(1);
        TestBackend pd = backend(Role.PD);
        EpdProxy proxy = proxy(List.of(encoder), List.of(pd), List.of(), List.of());

        HttpResponse<String> response = post(proxy, "/v1/chat/completions", IMAGE_CHAT);

        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(response.body()).endsWith("data: [DONE]\n\n");
        assertThat(attempts(encoder, response)).isEqualTo(2);
        assertAllFreed(proxy);
    }

    @Test
    void backendsThatCloseEveryConnectionGetAtMostMaxRetriesAttemptsThen502() throws Exception {
        TestBackend a = backend(Role.PD);
        TestBackend b = backend(Role.PD);
        a.dropAll = true;
        b.dropAll = true;
        EpdProxy proxy = proxy(List.of(), List.of(a, b), List.of(), List.of());

        HttpResponse<String> response = post(proxy, "/v1/chat/completions", TEXT_CHAT);

        assertThat(response.statusCode()).isEqualTo(502);
        assertThat(response.body()).contains("failed before answering");
        assertThat(attempts(a, response) + attempts(b, response)).isEqualTo(3);
        assertThat(List.of(attempts(a, response), attempts(b, response))).doesNotContain(0L);
        assertThat(get(proxy, "/health").statusCode()).as("closing a connection is no sign of a down backend").isEqualTo(200);
        assertAllFreed(proxy);
    }

    @Test
    void healthIs503NamingTheRoleWithoutHealthyBackendsAndRequestsGet503() throws Exception {
        TestBackend encoder = backend(Role.ENCODER);
        TestBackend pd = backend(Role.PD);
        pd.healthStatus = 500;
        EpdProxy proxy = proxy(List.of(encoder), List.of(pd), List.of(), List.of());

        HttpResponse<String> health = get(proxy, "/health");
        HttpResponse<String> healthcheck = get(proxy, "/healthcheck");
        HttpResponse<String> request = post(proxy, "/v1/chat/completions", TEXT_CHAT);

        assertThat(health.statusCode()).isEqualTo(503);
        JsonNode body = JSON.readTree(health.body());
        assertThat(body.get("status").asText()).isEqualTo("unhealthy");
        assertThat(body.get("down").get(0).asText()).isEqualTo("pd " + pd.endpoint() + ": GET /health answered 500");
        assertThat(healthcheck.statusCode()).isEqualTo(503);
        assertThat(JSON.readTree(healthcheck.body()).get("pd_instances").asInt()).isEqualTo(1);
        assertThat(request.statusCode()).isEqualTo(503);
        assertThat(request.body()).contains("no healthy pd backend");

        pd.healthStatus = 200;
        eventually("the recovered backend found healthy", () -> {
            try {
                return get(proxy, "/health").statusCode() == 200;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(post(proxy, "/v1/chat/completions", TEXT_CHAT).statusCode()).isEqualTo(200);
    }

    @Test
    void aBackendsErrorStatusReachesTheClientWithItsBody() throws Exception {
        TestBackend encoder = backend(Role.ENCODER);
        TestBackend pd = backend(Role.PD);
        EpdProxy proxy = proxy(List.of(encoder), List.of(pd), List.of(), List.of());
        pd.errorStatus = 400;

        HttpResponse<String> fromPd = post(proxy, "/v1/chat/completions", TEXT_CHAT);
        encoder.errorStatus = 422;
        encoder.errorBody = "{\"error\":{\"message\":\"image too large\"}}";
        HttpResponse<String> fromEncoder = post(proxy, "/v1/chat/completions", IMAGE_CHAT);

        assertThat(fromPd.statusCode()).isEqualTo(400);
        assertThat(fromPd.body()).isEqualTo(pd.errorBody);
        assertThat(fromEncoder.statusCode()).isEqualTo(422);
        assertThat(fromEncoder.body()).isEqualTo("{\"error\":{\"message\":\"image too large\"}}");
        assertThat(pd.generations()).hasSize(1);
        assertAllFreed(proxy);
    }

    @Test
    void aPrefillFailureReachesTheClientOfTheDisaggregatedRequest() throws Exception {
        TestBackend prefill = backend(Role.PREFILL);
        TestBackend decode = backend(Role.DECODE);
        prefill.errorStatus = 500;
        prefill.errorBody = "{\"error\":{\"message\":\"prefill exploded\"}}";
        EpdProxy proxy = proxy(List.of(), List.of(), List.of(prefill), List.of(decode));

        HttpResponse<String> response = post(proxy, "/v1/chat/completions", TEXT_CHAT);

        assertThat(response.statusCode()).isEqualTo(500);
        assertThat(response.body()).isEqualTo(prefill.errorBody);
        eventually("the decoder heard the metaserver's refusal", () -> decode.metaserverStatuses.size() == 1);
        assertThat(decode.metaserverStatuses).containsExactly(500);
        assertAllFreed(proxy);
    }

    @Test
    void aStreamThatBreaksEndsWithAnErrorEventAndNoCleanEnd() throws Exception {
        TestBackend pd = backend(Role.PD);
        pd.tokens = 5;
        pd.breakAfterChunks = 2;
        EpdProxy proxy = proxy(List.of(), List.of(pd), List.of(), List.of());

        String response;
        try (RawHttp client = RawHttp.post(proxy.port(), "/v1/chat/completions", TEXT_CHAT)) {
            response = client.readToEnd();
        }

        assertThat(response).startsWith("HTTP/1.1 200").contains("tok0", "tok1").doesNotContain("tok2", "[DONE]");
        assertThat(response).contains("data: {\"error\":{").contains("broke off its answer");
        assertThat(RawHttp.endsWithLastChunk(response)).as(response).isFalse();
        assertAllFreed(proxy);
    }

    @Test
    void aBackendThatSendsNothingIsCutOffWith504AndNotRetriedElsewhere() throws Exception {
        TestBackend silent = backend(Role.PD);
        silent.silent = true;
        TestBackend other = backend(Role.PD);
        other.silent = true;
        EpdProxy proxy = proxy(List.of(), List.of(silent, other), List.of(), List.of(), Duration.ofMillis(500));

        HttpResponse<String> response = post(proxy, "/v1/completions", "{\"model\":\"m\",\"prompt\":\"Hi\"}");

        assertThat(response.statusCode()).isEqualTo(504);
        assertThat(response.body()).contains("sent nothing for 0.5 s (--backend-timeout)");
        assertThat(silent.generations().size() + other.generations().size()).isEqualTo(1);
        eventually("the backend saw its request dropped", () -> silent.abandoned.get() + other.abandoned.get() == 1);
        assertAllFreed(proxy);
    }

    @Test
    void aPrefillerThatStallsMidAnswerFailsTheRequestAndTheDecodersCallback() throws Exception {
        TestBackend prefill = backend(Role.PREFILL);
        prefill.stallAfterFirstByte = true;
        TestBackend decode = backend(Role.DECODE);
        // long enough that the decoder's own callback (a first connection, cold code) comes well within it
        EpdProxy proxy = proxy(List.of(), List.of(), List.of(prefill), List.of(decode), Duration.ofSeconds(2));

        HttpResponse<String> response = post(proxy, "/v1/chat/completions", TEXT_CHAT);

        assertThat(response.statusCode()).isEqualTo(504);
        assertThat(response.body()).contains("prefill " + prefill.endpoint() + " sent nothing for 2 s (--backend-timeout)");
        eventually("the decoder heard the metaserver's refusal", () -> decode.metaserverStatuses.size() == 1);
        assertThat(decode.metaserverStatuses).containsExactly(504);
        eventually("the prefiller saw its request dropped", () -> prefill.abandoned.get() == 1);
        assertAllFreed(proxy);
    }

    @Test
    void aStreamThatStallsLongerThanTheBackendTimeoutEndsWithAnErrorEvent() throws Exception {
        TestBackend pd = backend(Role.PD);
        pd.tokens = 5;
        pd.chunkDelayMillis = 300;
        EpdProxy proxy = proxy(List.of(), List.of(pd), List.of(), List.of(), Duration.ofSeconds(2));

        // chunks 300 ms apart keep a 2 s timeout from firing, however long the whole answer takes
        assertThat(post(proxy, "/v1/chat/completions", TEXT_CHAT).body()).contains("tok4", "[DONE]");

        pd.chunkDelayMillis = 20_000; // below RawHttp's read timeout: a proxy that waits on fails, not hangs
        String response;
        try (RawHttp client = RawHttp.post(proxy.port(), "/v1/chat/completions", TEXT_CHAT)) {
            response = client.readToEnd();
        }

        assertThat(response).startsWith("HTTP/1.1 200").contains("tok0").doesNotContain("tok1");
        assertThat(response).contains("data: {\"error\":{\"message\":\"pd " + pd.endpoint()
                + " sent nothing for 2 s (--backend-timeout); its request was cancelled\",\"type\":\"upstream_error\",\"code\":504}}");
        assertThat(RawHttp.endsWithLastChunk(response)).as(response).isFalse();
        eventually("the backend saw its request dropped", () -> pd.abandoned.get() == 1);
        assertAllFreed(proxy);
    }

    @Test
    void aSlowClientIsNotTakenForASilentBackend() throws Exception {
        TestBackend pd = backend(Role.PD);
        pd.tokens = 4_000;
        pd.chunkPadding = 8_192; // 32 MB: more than the sockets can buffer, so the proxy must stop reading
        EpdProxy proxy = proxy(List.of(), List.of(pd), List.of(), List.of(), Duration.ofMillis(500));

        String response;
        try (RawHttp client = RawHttp.post(proxy.port(), "/v1/chat/completions", TEXT_CHAT)) {
            Thread.sleep(2_500); // not reading: the backend is held back for five of its timeouts
            response = client.readToEnd();
        }

        assertThat(response).contains("tok3999", "data: [DONE]").doesNotContain("\"error\"");
        assertThat(RawHttp.endsWithLastChunk(response)).isTrue();
        assertThat(pd.abandoned.get()).isZero();
        assertAllFreed(proxy);
    }

    @Test
    void theTokensOfOneReadFromTheBackendGoToTheClientAsOneChunk() throws Exception {
        TestBackend pd = backend(Role.PD);
        pd.tokens = 20; // written at once, one HTTP chunk each: the proxy reads them together
        EpdProxy proxy = proxy(List.of(), List.of(pd), List.of(), List.of());

        String response;
        try (RawHttp client = RawHttp.post(proxy.port(), "/v1/chat/completions", TEXT_CHAT)) {
            response = client.readToEnd();
        }

        assertThat(RawHttp.endsWithLastChunk(response)).as(response).isTrue();
        List<String> chunks = RawHttp.chunks(response);
        String events = String.join("", chunks);
        assertThat(events.split("\n\n")).as("every event whole").hasSize(21)
                .allSatisfy(event -> assertThat(event).startsWith("data: "));
        int previous = -1;
        for (int token = 0; token < 20; token++) {
            int at = events.indexOf("\"tok" + token + "\"");
            assertThat(at).as("tok%d, after the token before it", token).isGreaterThan(previous);
            previous = at;
        }
        assertThat(events).endsWith("data: [DONE]\n\n");
        // 21 chunks came from the backend; a read or two of them, each a chunk of its own
        assertThat(chunks).as(response).hasSizeLessThanOrEqualTo(3);
    }

    @Test
    void aChunkReachesTheClientAloneWhileTheBackendSendsNothingMore() throws Exception {
        TestBackend pd = backend(Role.PD);
        pd.tokens = 2;
        pd.chunkDelayMillis = Duration.ofMinutes(10).toMillis(); // the second token comes long after the test
        EpdProxy proxy = proxy(List.of(), List.of(pd), List.of(), List.of(), Duration.ofMinutes(20));

        String firstToken;
        try (RawHttp client = RawHttp.post(proxy.port(), "/v1/chat/completions", TEXT_CHAT)) {
            // a flush put off until more comes from the backend would never arrive: RawHttp gives up after 60 s
            firstToken = client.readUntil("tok0");
        }

        assertThat(firstToken).startsWith("HTTP/1.1 200").doesNotContain("tok1", "[DONE]");
    }

    @Test
    void aClientThatHangsUpCancelsTheBackendRequest() throws Exception {
        TestBackend prefill = backend(Role.PREFILL);
        TestBackend decode = backend(Role.DECODE);
        decode.tokens = 10_000;
        decode.chunkDelayMillis = 20;
        EpdProxy proxy = proxy(List.of(), List.of(), List.of(prefill), List.of(decode));

        try (RawHttp client = RawHttp.post(proxy.port(), "/v1/chat/completions", TEXT_CHAT)) {
            client.readUntil("tok1");
        }

        eventually("the decoder saw its request dropped", () -> decode.abandoned.get() == 1);
        assertAllFreed(proxy);
    }

    @Test
    void modelsAndMetricsAreServed() throws Exception {
        TestBackend pd = backend(Role.PD);
        EpdProxy proxy = proxy(List.of(), List.of(pd), List.of(), List.of());
        post(proxy, "/v1/chat/completions", TEXT_CHAT);
        pd.errorStatus = 500;
        post(proxy, "/v1/chat/completions", TEXT_CHAT);

        HttpResponse<String> models = get(proxy, "/v1/models");
        HttpResponse<String> metrics = get(proxy, "/metrics");

        assertThat(models.statusCode()).isEqualTo(200);
        assertThat(models.body()).contains("\"id\":\"test-model\"");
        String labels = "{role=\"pd\",backend=\"" + pd.endpoint() + "\"}";
        assertThat(metrics.body()).contains(
                "epdctl_proxy_requests_total{route=\"/v1/chat/completions\"} 2",
                "epdctl_proxy_request_errors_total{route=\"/v1/chat/completions\"} 1",
                "epdctl_proxy_requests_in_flight 0",
                "epdctl_proxy_backend_up" + labels + " 1",
                "epdctl_proxy_backend_requests_total" + labels + " 3",
                "epdctl_proxy_backend_errors_total" + labels + " 1",
                "epdctl_proxy_backend_request_seconds_count" + labels + " 3");
    }

    @Test
    void nonJsonBodiesAreRejectedWith400() throws Exception {
        EpdProxy proxy = proxy(List.of(), List.of(backend(Role.PD)), List.of(), List.of());

        HttpResponse<String> response = post(proxy, "/v1/chat/completions", "{not json");

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(response.body()).contains("not JSON");
    }

}
