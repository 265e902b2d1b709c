package io.epdctl.sim;

import static io.epdctl.sim.Http.json;
import static io.epdctl.sim.Http.metric;
import static io.epdctl.sim.Http.metricReaching;
import static io.epdctl.sim.Http.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.epdctl.sim.transfer.EcStore;
import io.epdctl.sim.transfer.KvSender;
import io.epdctl.testing.SimCluster;
import io.epdctl.testing.SimNode;
import io.epdctl.testing.SystemTest;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The EC and KV hand-offs between real simulator processes, driven step by step as the vLLM-Ascend EPD proxy
 * drives them: E, then D with a metaserver, whose callback sends the request to P, which pushes the KV to D.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@SystemTest
class SimTransferTest {
    /** A 1x1 PNG, as a client would send a picture. */
    static final String IMAGE = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    private static final Map<String, String> ENV = Map.of("VLLM_SIM_KV_TIMEOUT_MS", "3000");

    private SimCluster cluster;
    private SimNode encoder;
    private SimNode prefill;
    private SimNode decode;

    @BeforeAll
    void start(@TempDir Path dir) {
        cluster = SimCluster.onePrefillOneDecode(dir, ENV);
        encoder = cluster.node("e0");
        prefill = cluster.node("p0");
        decode = cluster.node("d0");
    }

    @AfterAll
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    static ObjectNode chatWithImage(String text, String image, int maxTokens) {
        ObjectNode request = Http.JSON.createObjectNode().put("model", SimCluster.SERVED_NAME).put("max_tokens", maxTokens);
        ObjectNode message = request.putArray("messages").addObject().put("role", "user");
        message.putArray("content").addObject().put("type", "image_url").putObject("image_url").put("url", image);
        ((com.fasterxml.jackson.databind.node.ArrayNode) message.get("content")).addObject().put("type", "text")
                .put("text", text);
        return request;
    }

    @Test
    void aChatWithAnImageGoesThroughEncoderPrefillAndDecode() throws IOException {
        String image = IMAGE + "#" + UUID.randomUUID(); // a picture no other test sent
        String id = UUID.randomUUID().toString();
        ObjectNode request = chatWithImage("Describe this image.", image, 8).put("stream", true);
        double saves = metric(encoder.baseUrl(), "vllm_sim:ec_cache_saves_total");
        double hits = metric(prefill.baseUrl(), "vllm_sim:ec_cache_hits_total");
        double sent = metric(prefill.baseUrl(), "vllm_sim:kv_pushes_sent_total");
        double received = metric(decode.baseUrl(), "vllm_sim:kv_pushes_received_total");
        double callbacks = metric(decode.baseUrl(), "vllm_sim:kv_metaserver_callbacks_total");

        // E: the proxy's encoder step
        ObjectNode encoderRequest = request.deepCopy().put("stream", false).put("max_tokens", 1).put("min_tokens", 1);
        assertThat(post(encoder.baseUrl() + "/v1/chat/completions", encoderRequest, Map.of("X-Request-Id", id))
                .statusCode()).isEqualTo(200);
        assertThat(cluster.ecCache().resolve(EcStore.mmHash(image)).resolve("encoder_cache.safetensors")).isRegularFile();

        // D with the metaserver; the metaserver's callback sends the request to P, which pushes KV to D
        try (Metaserver metaserver = new Metaserver(prefill.baseUrl(), UnaryOperator.identity())) {
            metaserver.expect("chatcmpl-" + id, request.deepCopy());
            ObjectNode decodeRequest = request.deepCopy();
            decodeRequest.putObject("kv_transfer_params").put("do_remote_decode", false).put("do_remote_prefill", true)
                    .put("metaserver", metaserver.url());
            HttpResponse<String> answer = post(decode.baseUrl() + "/v1/chat/completions", decodeRequest,
                    Map.of("X-Request-Id", id));

            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
            assertThat(answer.body()).contains("\"id\":\"chatcmpl-" + id + "\"").endsWith("data: [DONE]\n\n");
            JsonNode callback = metaserver.callbacks(1).get(0);
            assertThat(callback.path("request_id").asText()).isEqualTo("chatcmpl-" + id);
            assertThat(callback.path("do_remote_decode").asBoolean()).isTrue();
            assertThat(callback.path("do_remote_prefill").asBoolean()).isFalse();
            assertThat(callback.path("remote_host").asText()).isEqualTo("127.0.0.1");
            assertThat(callback.path("remote_port").asInt()).isEqualTo(cluster.kvPort());
            assertThat(callback.path("remote_engine_id").asText()).isEqualTo("1");
            assertThat(callback.path("remote_tp_size").asInt()).isEqualTo(1);
            assertThat(callback.path("remote_block_ids").isArray()).isTrue();
            assertThat(callback.path("remote_block_size").asInt()).isPositive();
            assertThat(metaserver.prefillStatuses(1)).containsExactly(200);
        }
        assertThat(metric(encoder.baseUrl(), "vllm_sim:ec_cache_saves_total")).isEqualTo(saves + 1);
        assertThat(metric(prefill.baseUrl(), "vllm_sim:ec_cache_hits_total")).isEqualTo(hits + 1);
        assertThat(metric(prefill.baseUrl(), "vllm_sim:kv_pushes_sent_total")).isEqualTo(sent + 1);
        assertThat(metric(decode.baseUrl(), "vllm_sim:kv_metaserver_callbacks_total")).isEqualTo(callbacks + 1);
        assertThat(metric(decode.baseUrl(), "vllm_sim:kv_pushes_received_total")).isEqualTo(received + 1);
    }

    /**
     * The proxy's encoder step for many requests carrying one picture: each saves the same file at once. Every
     * save must succeed and a consumer reading meanwhile must find either no file or the whole file.
     */
    @Test
    void sixtyFourConcurrentSavesOfOneImageAllSucceedAndTheConsumerReadsWholeFiles() throws Exception {
        String image = IMAGE + "#" + UUID.randomUUID();
        Path file = cluster.ecCache().resolve(EcStore.mmHash(image)).resolve("encoder_cache.safetensors");
        ObjectNode encoderRequest = chatWithImage("Describe this image.", image, 1).put("stream", false)
                .put("min_tokens", 1);
        ObjectNode consumerRequest = chatWithImage("Describe this image.", image, 1);
        int writers = 64;
        int requestsEach = 8;
        int readers = 4;
        double hits = metric(prefill.baseUrl(), "vllm_sim:ec_cache_hits_total");
        double misses = metric(prefill.baseUrl(), "vllm_sim:ec_cache_misses_total");
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        AtomicInteger consumerRequests = new AtomicInteger();
        AtomicBoolean saving = new AtomicBoolean(true);
        CyclicBarrier start = new CyclicBarrier(writers + readers);
        ExecutorService threads = Executors.newFixedThreadPool(writers + readers);
        try {
            List<Future<?>> writing = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                writing.add(threads.submit(() -> {
                    start.await();
                    for (int r = 0; r < requestsEach; r++) {
                        record(failures, "encoder", () -> post(encoder.baseUrl() + "/v1/chat/completions",
                                encoderRequest, Map.of("X-Request-Id", UUID.randomUUID().toString())));
                    }
                    return null;
                }));
            }
            List<Future<?>> reading = new ArrayList<>();
            for (int r = 0; r < readers; r++) {
                reading.add(threads.submit(() -> {
                    start.await();
                    while (saving.get()) {
                        // the file as a consumer finds it: absent (not saved yet), or complete
                        if (Files.exists(file)) {
                            try {
                                String content = Files.readString(file);
                                if (!content.equals(COMPLETE_EC_FILE)) {
                                    failures.add("partial file: " + content.length() + " characters: " + content);
                                }
                            } catch (NoSuchFileException e) {
                                failures.add("the file vanished while being read");
                            }
                            consumerRequests.incrementAndGet();
                            record(failures, "consumer", () -> post(prefill.baseUrl() + "/v1/chat/completions",
                                    consumerRequest, Map.of()));
                        }
                    }
                    return null;
                }));
            }
            for (var writer : writing) {
                writer.get(2, TimeUnit.MINUTES);
            }
            saving.set(false);
            for (var reader : reading) {
                reader.get(1, TimeUnit.MINUTES);
            }
        } finally {
            saving.set(false);
            threads.shutdownNow();
        }

        assertThat(failures).isEmpty();
        assertThat(Files.readString(file)).isEqualTo(COMPLETE_EC_FILE);
        try (var left = Files.list(file.getParent())) {
            assertThat(left).as("no temporary file is left behind").containsExactly(file);
        }
        assertThat(consumerRequests.get()).as("the consumer read while the encoder saved").isPositive();
        assertThat(metric(prefill.baseUrl(), "vllm_sim:ec_cache_hits_total")).isEqualTo(hits + consumerRequests.get());
        assertThat(metric(prefill.baseUrl(), "vllm_sim:ec_cache_misses_total")).isEqualTo(misses);
    }

    /**
     * A decoder's HTTP and KV listeners queue thousands of connections not yet accepted (a proxy under load opens
     * them in bursts; an overflow costs the client a 1 s SYN retransmission). For a listening socket, ss shows
     * the backlog as Send-Q.
     */
    @Test
    void everyListenerOfADecoderQueuesThousandsOfConnections() throws Exception {
        int expected = Math.min(4096, Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/net/core/somaxconn")).get(0).strip()));
        assertThat(backlog(decode.port())).as("HTTP listener").isEqualTo(expected);
        assertThat(backlog(cluster.kvPort())).as("KV listener").isEqualTo(expected);
    }

    private static int backlog(int port) throws IOException, InterruptedException {
        Process ss = new ProcessBuilder("ss", "-ltnH", "sport = :" + port).redirectErrorStream(true).start();
        String out = new String(ss.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(ss.waitFor()).as(out).isZero();
        String[] fields = out.strip().split("\\s+");
        assertThat(fields).as("one listener on port " + port + ": " + out).hasSize(5);
        return Integer.parseInt(fields[2]);
    }

    /** The stand-in encoder output the simulator writes for one picture (64 tokens). */
    private static final String COMPLETE_EC_FILE = "{\"ec_cache\":{\"dtype\":\"BF16\",\"shape\":[64,4096]}}\n";

    private interface Call {
        HttpResponse<String> send();
    }

    private static void record(Collection<String> failures, String who, Call call) {
        try {
            HttpResponse<String> answer = call.send();
            if (answer.statusCode() != 200) {
                failures.add(who + " answered " + answer.statusCode() + ": " + answer.body());
            }
        } catch (RuntimeException e) {
            failures.add(who + ": " + e.getMessage());
        }
    }

    @Test
    void completionsUseTheCmplIdWithItsIndex() throws IOException {
        String id = UUID.randomUUID().toString();
        ObjectNode request = Http.JSON.createObjectNode().put("model", SimCluster.SERVED_NAME)
                .put("prompt", "once upon a time").put("max_tokens", 4);
        try (Metaserver metaserver = new Metaserver(prefill.baseUrl(), UnaryOperator.identity())) {
            metaserver.expect("cmpl-" + id + "-0", request.deepCopy());
            request.putObject("kv_transfer_params").put("do_remote_decode", false).put("do_remote_prefill", true)
                    .put("metaserver", metaserver.url());
            HttpResponse<String> answer = post(decode.baseUrl() + "/v1/completions", request, Map.of("X-Request-Id", id));
            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
            assertThat(json(answer).path("choices").get(0).path("text").asText().strip().split(" ")).hasSize(4);
            assertThat(metaserver.callbacks(1)).extracting(c -> c.path("request_id").asText())
                    .containsExactly("cmpl-" + id + "-0");
        }
    }

    @Test
    void aWrongKvPortFailsThePrefillAndTheDecodeGivesUp() throws IOException {
        int wrongPort = SimNode.freePort();
        double failures = metric(prefill.baseUrl(), "vllm_sim:kv_push_failures_total");
        double timeouts = metric(decode.baseUrl(), "vllm_sim:kv_wait_timeouts_total");
        String id = UUID.randomUUID().toString();
        ObjectNode request = chatWithImage("What is this?", IMAGE, 4);
        try (Metaserver metaserver = new Metaserver(prefill.baseUrl(), c -> c.put("remote_port", wrongPort))) {
            metaserver.expect("chatcmpl-" + id, request.deepCopy());
            request.putObject("kv_transfer_params").put("do_remote_decode", false).put("do_remote_prefill", true)
                    .put("metaserver", metaserver.url());
            HttpResponse<String> answer = post(decode.baseUrl() + "/v1/chat/completions", request,
                    Map.of("X-Request-Id", id));

            assertThat(answer.statusCode()).isEqualTo(500);
            assertThat(json(answer).path("error").path("message").asText()).contains("did not arrive");
            assertThat(metaserver.prefillStatuses(1)).containsExactly(500);
        }
        assertThat(metric(prefill.baseUrl(), "vllm_sim:kv_push_failures_total")).isEqualTo(failures + 1);
        assertThat(metric(decode.baseUrl(), "vllm_sim:kv_wait_timeouts_total")).isEqualTo(timeouts + 1);
        assertThat(prefill.log()).contains("KV transfer of chatcmpl-" + id + " to 127.0.0.1:" + wrongPort + " failed");
    }

    @Test
    void aDecoderWhoseCallbackGoesNowhereTimesOut() {
        double failures = metric(decode.baseUrl(), "vllm_sim:kv_metaserver_callback_failures_total");
        ObjectNode request = chatWithImage("Anyone?", IMAGE, 2);
        request.putObject("kv_transfer_params").put("do_remote_decode", false).put("do_remote_prefill", true)
                .put("metaserver", "http://127.0.0.1:" + SimNode.freePort() + "/v1/metaserver");
        HttpResponse<String> answer = post(decode.baseUrl() + "/v1/chat/completions", request, Map.of());
        assertThat(answer.statusCode()).isEqualTo(500);
        assertThat(metricReaching(decode.baseUrl(), "vllm_sim:kv_metaserver_callback_failures_total", failures + 1))
                .isEqualTo(failures + 1);
    }

    @Test
    void theCallbackHonoursHttpProxyAsHttpxDoes(@TempDir Path dir) {
        String deadProxy = "http://127.0.0.1:" + SimNode.freePort();
        String kv = "{\"kv_connector\":\"MooncakeLayerwiseConnector\",\"kv_role\":\"kv_consumer\",\"kv_port\":"
                + SimNode.freePort() + "}";
        try (Metaserver metaserver = new Metaserver(null, UnaryOperator.identity());
                SimNode proxied = SimNode.builder(dir).name("proxied").flags(SimCluster.commonFlags()).flags("--kv-transfer-config", kv)
                        .env("http_proxy", deadProxy).env("VLLM_SIM_KV_TIMEOUT_MS", "1000").start()) {
            ObjectNode request = chatWithImage("x", IMAGE, 1);
            request.putObject("kv_transfer_params").put("do_remote_prefill", true).put("metaserver", metaserver.url());
            assertThat(post(proxied.baseUrl() + "/v1/chat/completions", request, Map.of()).statusCode()).isEqualTo(500);
            assertThat(metricReaching(proxied.baseUrl(), "vllm_sim:kv_metaserver_callback_failures_total", 1))
                    .isEqualTo(1);
            assertThat(metaserver.callbacks()).isEmpty();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        String kvExempt = "{\"kv_connector\":\"MooncakeLayerwiseConnector\",\"kv_role\":\"kv_consumer\",\"kv_port\":"
                + SimNode.freePort() + "}";
        try (Metaserver metaserver = new Metaserver(null, UnaryOperator.identity());
                SimNode exempt = SimNode.builder(dir).name("exempt").flags(SimCluster.commonFlags()).flags("--kv-transfer-config", kvExempt)
                        .env("http_proxy", deadProxy).env("no_proxy", "localhost,127.0.0.1")
                        .env("VLLM_SIM_KV_TIMEOUT_MS", "1000").start()) {
            ObjectNode request = chatWithImage("x", IMAGE, 1);
            request.putObject("kv_transfer_params").put("do_remote_prefill", true).put("metaserver", metaserver.url());
            post(exempt.baseUrl() + "/v1/chat/completions", request, Map.of());
            assertThat(metaserver.callbacks(1)).hasSize(1);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void aPushNobodyWaitsForIsRefused() {
        double refused = metric(decode.baseUrl(), "vllm_sim:kv_pushes_refused_total");
        assertThatThrownBy(() -> KvSender.push("127.0.0.1", cluster.kvPort(), "chatcmpl-nobody", "x", 1024, 5000))
                .isInstanceOf(IOException.class).hasMessageContaining("no request chatcmpl-nobody is waiting");
        assertThat(metric(decode.baseUrl(), "vllm_sim:kv_pushes_refused_total")).isEqualTo(refused + 1);
    }

    @Test
    void aPrefillWithoutKvParamsJustAnswersAndTheEncoderNeverLooksUp() {
        HttpResponse<String> answer = post(prefill.baseUrl() + "/v1/chat/completions", chatWithImage("x", IMAGE, 1),
                Map.of());
        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(metric(encoder.baseUrl(), "vllm_sim:ec_cache_hits_total")).isZero();
        assertThat(metric(encoder.baseUrl(), "vllm_sim:ec_cache_misses_total")).isZero();
    }

    @Test
    void oneEncoderOnePdCountsHitsAndMisses(@TempDir Path dir) throws IOException {
        try (SimCluster onePd = SimCluster.onePd(dir, Map.of())) {
            SimNode e = onePd.node("e0");
            SimNode pd = onePd.node("pd0");
            String seen = IMAGE + "#seen";
            String unseen = IMAGE + "#unseen";
            assertThat(post(e.baseUrl() + "/v1/chat/completions", chatWithImage("x", seen, 1), Map.of()).statusCode())
                    .isEqualTo(200);
            assertThat(post(pd.baseUrl() + "/v1/chat/completions", chatWithImage("x", seen, 3), Map.of()).statusCode())
                    .isEqualTo(200);
            // a miss is not an error: the PD answers, and it shows in the metrics and the log
            assertThat(post(pd.baseUrl() + "/v1/chat/completions", chatWithImage("x", unseen, 3), Map.of()).statusCode())
                    .isEqualTo(200);
            assertThat(metric(pd.baseUrl(), "vllm_sim:ec_cache_hits_total")).isEqualTo(1);
            assertThat(metric(pd.baseUrl(), "vllm_sim:ec_cache_misses_total")).isEqualTo(1);
            assertThat(pd.log()).contains("Encoder cache miss", EcStore.mmHash(unseen));
            try (var files = Files.walk(onePd.ecCache())) {
                assertThat(files.filter(Files::isRegularFile)).hasSize(1);
            }
        }
    }
    /** A chat request with one user message of {@code parts}: text, or image URLs (anything with a colon). */
    private static ObjectNode chatWithParts(int maxTokens, String... parts) {
        ObjectNode request = Http.JSON.createObjectNode().put("model", SimCluster.SERVED_NAME).put("max_tokens", maxTokens);
        var content = request.putArray("messages").addObject().put("role", "user").putArray("content");
        for (String part : parts) {
            if (part.contains(":")) {
                content.addObject().put("type", "image_url").putObject("image_url").put("url", part);
            } else {
                content.addObject().put("type", "text").put("text", part);
            }
        }
        return request;
    }

    /**
     * As in vLLM, each image's embedding is stored under the image's own hash: a consumer finds every image of
     * a request whether the encoder got them together (single) or one per request (fan-out), and one it does
     * not find is a miss, as for one image.
     */
    @Test
    void aConsumerFindsEachImageOfARequestWhetherTheyWereEncodedTogetherOrOnePerRequest() {
        String run = "#" + UUID.randomUUID();
        String a = IMAGE + run + "a";
        String b = IMAGE + run + "b";
        String c = IMAGE + run + "c";
        String never = IMAGE + run + "never";
        double saves = metric(encoder.baseUrl(), "vllm_sim:ec_cache_saves_total");

        // a and b in one request with text; c alone, without text, as a fan-out proxy sends it
        assertThat(post(encoder.baseUrl() + "/v1/chat/completions", chatWithParts(1, a, "Compare these.", b), Map.of())
                .statusCode()).isEqualTo(200);
        assertThat(post(encoder.baseUrl() + "/v1/chat/completions", chatWithParts(1, c), Map.of("X-Request-Id", "r:2"))
                .statusCode()).isEqualTo(200);
        assertThat(metric(encoder.baseUrl(), "vllm_sim:ec_cache_saves_total")).isEqualTo(saves + 3);
        for (String image : List.of(a, b, c)) {
            assertThat(cluster.ecCache().resolve(EcStore.mmHash(image)).resolve("encoder_cache.safetensors")).isRegularFile();
        }

        double hits = metric(prefill.baseUrl(), "vllm_sim:ec_cache_hits_total");
        double misses = metric(prefill.baseUrl(), "vllm_sim:ec_cache_misses_total");
        assertThat(post(prefill.baseUrl() + "/v1/chat/completions", chatWithParts(2, "Which is brighter?", c, a, b),
                Map.of()).statusCode()).isEqualTo(200);
        assertThat(metric(prefill.baseUrl(), "vllm_sim:ec_cache_hits_total")).isEqualTo(hits + 3);
        assertThat(metric(prefill.baseUrl(), "vllm_sim:ec_cache_misses_total")).isEqualTo(misses);

        assertThat(post(prefill.baseUrl() + "/v1/chat/completions", chatWithParts(2, b, never), Map.of("X-Request-Id",
                "one-missing")).statusCode()).isEqualTo(200);
        assertThat(metric(prefill.baseUrl(), "vllm_sim:ec_cache_hits_total")).isEqualTo(hits + 4);
        assertThat(metric(prefill.baseUrl(), "vllm_sim:ec_cache_misses_total")).isEqualTo(misses + 1);
        assertThat(prefill.log()).contains("Encoder cache miss for chatcmpl-one-missing: "
                + cluster.ecCache().resolve(EcStore.mmHash(never)).resolve("encoder_cache.safetensors"));
    }

    /**
     * VLLM_SIM_ENCODE_DELAY_MS is the vision encoder's time per image, wherever an instance encodes: the producer
     * for each image, a consumer for each image it misses. Only lower bounds are asserted (the machine is shared).
     */
    @Test
    void theEncodeTimeIsPerImageOnTheEncoderAndOnAMiss(@TempDir Path dir) {
        try (SimCluster onePd = SimCluster.onePd(dir, Map.of("VLLM_SIM_ENCODE_DELAY_MS", "150"))) {
            SimNode e = onePd.node("e0");
            SimNode pd = onePd.node("pd0");
            String x = IMAGE + "#x";
            String y = IMAGE + "#y";
            String z = IMAGE + "#z";

            long start = System.nanoTime();
            assertThat(post(e.baseUrl() + "/v1/chat/completions", chatWithParts(1, x, y, z), Map.of()).statusCode())
                    .isEqualTo(200);
            long encoderMillis = (System.nanoTime() - start) / 1_000_000;
            start = System.nanoTime();
            assertThat(post(pd.baseUrl() + "/v1/chat/completions", chatWithParts(1, x, IMAGE + "#unseen"), Map.of())
                    .statusCode()).isEqualTo(200);
            long missMillis = (System.nanoTime() - start) / 1_000_000;

            assertThat(encoderMillis).as("3 images on the encoder").isGreaterThanOrEqualTo(450);
            assertThat(missMillis).as("1 image missed on the PD").isGreaterThanOrEqualTo(150);
            assertThat(metric(pd.baseUrl(), "vllm_sim:ec_cache_misses_total")).isEqualTo(1);
        }
    }
}
