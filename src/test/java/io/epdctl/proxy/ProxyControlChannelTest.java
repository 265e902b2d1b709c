package io.epdctl.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.testing.SystemTest;
import io.epdctl.topology.Role;
import io.epdctl.topology.ProxyTuning;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The control channel of a running proxy, against real HTTP servers playing each vLLM role. */
@SystemTest
class ProxyControlChannelTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String IMAGE_CHAT = """
            {"model":"m","stream":true,"max_tokens":20,
             "messages":[{"role":"user","content":[
               {"type":"image_url","image_url":{"url":"https://images.example.invalid/cat.png"}},
               {"type":"text","text":"What is in the image?"}]}]}""";

    private final List<AutoCloseable> resources = new ArrayList<>();
    private final List<String> log = new CopyOnWriteArrayList<>();
    private final HttpClient http = HttpClient.newHttpClient();
    @TempDir
    Path dir;

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

    private EpdProxy proxy(ProxyBackends backends, Path controlFile) {
        ProxyConfig config = new ProxyConfig(new Endpoint("127.0.0.1", 0), backends,
                new ProxyTuning(3, Duration.ofMillis(1), Duration.ofSeconds(60), Duration.ofSeconds(60), 2));
        EpdProxy proxy = EpdProxy.start(config, log::add, Duration.ofSeconds(30), controlFile);
        resources.add(proxy);
        return proxy;
    }

    private static List<Endpoint> endpoints(TestBackend... backends) {
        return java.util.Arrays.stream(backends).map(TestBackend::endpoint).toList();
    }

    private HttpResponse<String> control(EpdProxy proxy, String token, String method, String path, String body)
            throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.control().port() + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode operate(EpdProxy proxy, String path, String body) throws Exception {
        HttpResponse<String> response = control(proxy, proxy.control().token(), "POST", path, body);
        assertThat(response.statusCode()).as(response.body()).isBetween(200, 201);
        return JSON.readTree(response.body());
    }

    private JsonNode backends(EpdProxy proxy) throws Exception {
        HttpResponse<String> response = control(proxy, proxy.control().token(), "GET", "/backends", null);
        assertThat(response.statusCode()).isEqualTo(200);
        return JSON.readTree(response.body()).path("backends");
    }

    private static String target(Role role, TestBackend backend) {
        return "{\"role\":\"" + role.yamlName() + "\",\"host\":\"127.0.0.1\",\"port\":" + backend.port() + "}";
    }

    private static String drain(Role role, TestBackend backend, double seconds) {
        return "{\"role\":\"" + role.yamlName() + "\",\"host\":\"127.0.0.1\",\"port\":" + backend.port()
                + ",\"timeout_seconds\":" + seconds + "}";
    }

    private CompletableFuture<HttpResponse<String>> chat(EpdProxy proxy) {
        return http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + "/v1/chat/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(IMAGE_CHAT)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("never happened: " + what);
            }
            Thread.sleep(5);
        }
    }

    @Test
    void listsHowLongABackendThatWasHealthyHasFailedItsProbes() throws Exception {
        TestBackend pd = backend(Role.PD);
        TestBackend loading = backend(Role.PD);
        loading.healthStatus = 503;
        ProxyConfig config = new ProxyConfig(new Endpoint("127.0.0.1", 0),
                new ProxyBackends(List.of(), endpoints(pd, loading), List.of(), List.of()),
                new ProxyTuning(3, Duration.ofMillis(1), Duration.ofSeconds(60), Duration.ofSeconds(1), 2));
        EpdProxy proxy = EpdProxy.start(config, log::add, Duration.ofSeconds(30), dir.resolve("proxy.control"));
        resources.add(proxy);
        JsonNode before = backends(proxy);
        assertThat(before.get(0).path("healthy").asBoolean()).isTrue();
        assertThat(before.get(0).has("unhealthy_ms")).isFalse();
        assertThat(before.get(1).path("problem").asText()).isEqualTo("GET /health answered 503");
        assertThat(before.get(1).has("unhealthy_ms")).as("never healthy: loading, not unhealthy").isFalse();

        pd.healthSilent = true;
        long silent = System.nanoTime();
        await(() -> {
            try {
                return !backends(proxy).get(0).path("healthy").asBoolean();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, "the silent backend taken out");
        // a probe waits at most one interval (1 s) for its answer; the first timeout leaves it in, the second takes it out
        assertThat(Duration.ofNanos(System.nanoTime() - silent)).isGreaterThanOrEqualTo(Duration.ofSeconds(2));
        Thread.sleep(300);
        JsonNode after = backends(proxy).get(0);
        assertThat(after.path("problem").asText()).startsWith("GET /health failed: ");
        assertThat(after.path("unhealthy_ms").asLong()).isBetween(250L, 30_000L);
    }

    @Test
    void refusesEveryRequestWithoutTheTokenAndChangesNothing() throws Exception {
        TestBackend pd = backend(Role.PD);
        TestBackend other = backend(Role.PD);
        Path file = dir.resolve("proxy.control");
        EpdProxy proxy = proxy(new ProxyBackends(List.of(), endpoints(pd), List.of(), List.of()), file);

        // the file holds the port and the token, for its owner only; the token is in no log line
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(ControlFile.parse(Files.readString(file))).isEqualTo(proxy.control());
        assertThat(proxy.control().port()).isNotEqualTo(proxy.port());
        assertThat(String.join("\n", log)).doesNotContain(proxy.control().token());

        for (String token : new String[] {null, "wrong", proxy.control().token() + "x"}) {
            assertThat(control(proxy, token, "GET", "/backends", null).statusCode()).isEqualTo(401);
            HttpResponse<String> add = control(proxy, token, "POST", "/backends", target(Role.PD, other));
            assertThat(add.statusCode()).isEqualTo(401);
            assertThat(add.headers().firstValue("WWW-Authenticate")).contains("Bearer");
            assertThat(control(proxy, token, "POST", "/backends/drain", drain(Role.PD, pd, 0)).statusCode()).isEqualTo(401);
            assertThat(control(proxy, token, "POST", "/backends/remove", target(Role.PD, pd)).statusCode()).isEqualTo(401);
        }
        JsonNode listed = backends(proxy);
        assertThat(listed).hasSize(1);
        assertThat(listed.get(0).path("port").asInt()).isEqualTo(pd.port());
        assertThat(listed.get(0).path("state").asText()).isEqualTo("active");
        // the clients' port knows no control operation
        HttpResponse<String> onClientPort = http.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + proxy.port() + "/backends")).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(onClientPort.statusCode()).isEqualTo(404);

        proxy.close();
        assertThat(file).doesNotExist();
    }

    @Test
    void answersBadOperationsWithWhatIsWrong() throws Exception {
        TestBackend pd = backend(Role.PD);
        EpdProxy proxy = proxy(new ProxyBackends(List.of(), endpoints(pd), List.of(), List.of()), null);
        String token = proxy.control().token();

        assertThat(control(proxy, token, "POST", "/backends", "{\"role\":\"decode\",\"host\":\"h\",\"port\":1}").body())
                .contains("this proxy routes to pd backends");
        assertThat(control(proxy, token, "POST", "/backends", "{\"role\":\"x\",\"host\":\"h\",\"port\":1}").statusCode())
                .isEqualTo(400);
        assertThat(control(proxy, token, "POST", "/backends", "{\"role\":\"pd\",\"host\":\"h\",\"port\":70000}").body())
                .contains("port must be a number between 1 and 65535");
        assertThat(control(proxy, token, "POST", "/backends", target(Role.PD, pd)).statusCode()).isEqualTo(409);
        assertThat(control(proxy, token, "POST", "/backends/remove", "{\"role\":\"pd\",\"host\":\"h\",\"port\":1}").statusCode())
                .isEqualTo(404);
        assertThat(control(proxy, token, "POST", "/backends/drain", target(Role.PD, pd)).body())
                .contains("timeout_seconds must be a number");
        assertThat(backends(proxy)).hasSize(1);
    }

    @Test
    void replacesEveryBackendUnderLoadWithoutOneFailedRequest() throws Exception {
        TestBackend e0 = backend(Role.ENCODER);
        TestBackend p0 = backend(Role.PREFILL);
        TestBackend d0 = backend(Role.DECODE);
        TestBackend e1 = backend(Role.ENCODER);
        TestBackend p1 = backend(Role.PREFILL);
        TestBackend d1 = backend(Role.DECODE);
        for (TestBackend backend : List.of(e0, p0, d0, e1, p1, d1)) {
            backend.chunkDelayMillis = 2;
            backend.tokens = 10;
        }
        EpdProxy proxy = proxy(new ProxyBackends(endpoints(e0), List.of(), endpoints(p0), endpoints(d0)), null);

        List<HttpResponse<String>> answers = new CopyOnWriteArrayList<>();
        List<Throwable> broken = new CopyOnWriteArrayList<>();
        AtomicBoolean running = new AtomicBoolean(true);
        List<Thread> clients = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Thread client = new Thread(() -> {
                while (running.get()) {
                    try {
                        answers.add(chat(proxy).join());
                    } catch (RuntimeException e) {
                        broken.add(e);
                    }
                }
            });
            client.start();
            clients.add(client);
        }
        try {
            await(() -> answers.size() >= 10, "requests through e0, p0, d0");
            for (Role role : List.of(Role.ENCODER, Role.PREFILL, Role.DECODE)) {
                TestBackend old = role == Role.ENCODER ? e0 : role == Role.PREFILL ? p0 : d0;
                TestBackend replacement = role == Role.ENCODER ? e1 : role == Role.PREFILL ? p1 : d1;
                JsonNode added = operate(proxy, "/backends", target(role, replacement));
                assertThat(added.path("healthy").asBoolean()).as("probed at once").isTrue();
                int before = answers.size();
                await(() -> answers.size() >= before + 5, "requests after adding " + role.yamlName());
                JsonNode drained = operate(proxy, "/backends/drain", drain(role, old, 60));
                assertThat(drained.path("drained").asBoolean()).isTrue();
                assertThat(drained.path("in_flight").asInt()).isZero();
                assertThat(drained.path("state").asText()).isEqualTo("draining");
                int receivedByOld = old.generations().size();
                operate(proxy, "/backends/remove", target(role, old));
                int after = answers.size();
                await(() -> answers.size() >= after + 5, "requests after removing " + role.yamlName());
                assertThat(old.generations()).as("nothing new reached the drained " + role.yamlName()).hasSize(receivedByOld);
            }
        } finally {
            running.set(false);
            for (Thread client : clients) {
                client.join();
            }
        }

        assertThat(broken).isEmpty();
        assertThat(answers).allSatisfy(answer -> {
            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
            assertThat(answer.body()).endsWith("data: [DONE]\n\n");
        });
        assertThat(backends(proxy)).extracting(row -> row.path("port").asInt())
                .containsExactly(e1.port(), p1.port(), d1.port());
        assertThat(e1.generations()).isNotEmpty();
        assertThat(p1.generations()).isNotEmpty();
        assertThat(d1.generations()).isNotEmpty();
    }

    @Test
    void drainingADecoderWaitsForItsStreamAndItsPendingPrefill() throws Exception {
        TestBackend p0 = backend(Role.PREFILL);
        TestBackend d0 = backend(Role.DECODE);
        EpdProxy proxy = proxy(new ProxyBackends(List.of(), List.of(), endpoints(p0), endpoints(d0)), null);
        p0.holdAnswers = true;
        // the stream ends 6 s after its prefill: a drain that ended with the prefill would end that long before it
        d0.tokens = 4;
        d0.chunkDelayMillis = 1_500;

        CompletableFuture<HttpResponse<String>> answer = chat(proxy);
        await(() -> p0.held() == 1, "the prefill held at the prefiller");

        // the decoder's stream waits for its prefill: still in flight
        JsonNode early = operate(proxy, "/backends/drain", drain(Role.DECODE, d0, 0));
        assertThat(early.path("drained").asBoolean()).isFalse();
        assertThat(early.path("in_flight").asInt()).isEqualTo(1);
        assertThat(answer).isNotDone();

        CompletableFuture<JsonNode> drained = CompletableFuture.supplyAsync(() -> {
            try {
                return operate(proxy, "/backends/drain", drain(Role.DECODE, d0, 60));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        p0.release();

        assertThat(drained.join().path("drained").asBoolean()).isTrue();
        // the drain ended only once the decoder's answer was written out to the client, who has it a moment later
        // (its HTTP client completes the answer on a thread of its own: done at once is not to be asserted)
        HttpResponse<String> whole = answer.get(3, TimeUnit.SECONDS);
        assertThat(whole.statusCode()).isEqualTo(200);
        assertThat(whole.body()).contains("tok3").endsWith("data: [DONE]\n\n");
    }

    @Test
    void drainingTheLastPrefillerWaitsForTheDecodersThatHaveNotAskedYet() throws Exception {
        TestBackend p0 = backend(Role.PREFILL);
        TestBackend d0 = backend(Role.DECODE);
        EpdProxy proxy = proxy(new ProxyBackends(List.of(), List.of(), endpoints(p0), endpoints(d0)), null);
        d0.holdAnswers = true;

        CompletableFuture<HttpResponse<String>> answer = chat(proxy);
        await(() -> d0.held() == 1, "the request held at the decoder, before it asks for its prefill");

        JsonNode early = operate(proxy, "/backends/drain", drain(Role.PREFILL, p0, 0));
        assertThat(early.path("drained").asBoolean()).isFalse();
        assertThat(early.path("in_flight").asInt()).isEqualTo(1);
        // no prefiller takes new requests: a new one is told to come back, and nothing reaches the decoder
        HttpResponse<String> refused = chat(proxy).join();
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(refused.headers().firstValue("Retry-After")).isPresent();
        assertThat(d0.held()).isEqualTo(1);

        CompletableFuture<JsonNode> drained = CompletableFuture.supplyAsync(() -> {
            try {
                return operate(proxy, "/backends/drain", drain(Role.PREFILL, p0, 60));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        d0.release();

        assertThat(drained.join().path("drained").asBoolean()).isTrue();
        assertThat(answer.join().statusCode()).isEqualTo(200);
        assertThat(p0.generations()).hasSize(1); // the admitted request's prefill still went to the draining prefiller
    }

    @Test
    void aRoleWithoutAUsableBackendAnswers503WithRetryAfterAndTheProxyIsNotHealthy() throws Exception {
        TestBackend e0 = backend(Role.ENCODER);
        TestBackend pd = backend(Role.PD);
        EpdProxy proxy = proxy(new ProxyBackends(endpoints(e0), endpoints(pd), List.of(), List.of()), null);
        assertThat(health(proxy).statusCode()).isEqualTo(200);

        operate(proxy, "/backends/drain", drain(Role.PD, pd, 10));
        HttpResponse<String> whileDraining = chat(proxy).join();
        assertThat(whileDraining.statusCode()).isEqualTo(503);
        assertThat(whileDraining.headers().firstValue("Retry-After")).contains("60");
        assertThat(whileDraining.body()).contains("no healthy pd backend", "(draining)");
        HttpResponse<String> healthWhileDraining = health(proxy);
        assertThat(healthWhileDraining.statusCode()).isEqualTo(503);
        assertThat(JSON.readTree(healthWhileDraining.body()).path("draining").get(0).asText()).isEqualTo("pd " + pd.endpoint());

        operate(proxy, "/backends/remove", target(Role.PD, pd));
        HttpResponse<String> removed = chat(proxy).join();
        assertThat(removed.statusCode()).isEqualTo(503);
        assertThat(removed.headers().firstValue("Retry-After")).contains("60");
        assertThat(removed.body()).contains("no pd backend: every one was removed");
        HttpResponse<String> healthRemoved = health(proxy);
        assertThat(healthRemoved.statusCode()).isEqualTo(503);
        assertThat(JSON.readTree(healthRemoved.body()).path("no_backend").toString()).isEqualTo("[\"pd\"]");
        assertThat(pd.generations()).isEmpty();

        // the encoders too: a role once routed answers 503 rather than being skipped
        operate(proxy, "/backends", target(Role.PD, pd));
        operate(proxy, "/backends/remove", target(Role.ENCODER, e0));
        HttpResponse<String> noEncoder = chat(proxy).join();
        assertThat(noEncoder.statusCode()).isEqualTo(503);
        assertThat(noEncoder.body()).contains("no encoder backend");

        operate(proxy, "/backends", target(Role.ENCODER, e0));
        assertThat(health(proxy).statusCode()).isEqualTo(200);
        assertThat(chat(proxy).join().statusCode()).isEqualTo(200);
    }

    private HttpResponse<String> health(EpdProxy proxy) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + "/health")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
