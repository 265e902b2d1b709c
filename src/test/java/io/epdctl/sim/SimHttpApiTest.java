package io.epdctl.sim;

import static io.epdctl.sim.Http.get;
import static io.epdctl.sim.Http.json;
import static io.epdctl.sim.Http.metric;
import static io.epdctl.sim.Http.post;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.epdctl.testing.SimNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import io.epdctl.testing.SystemTest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The HTTP API of one simulator process, and the fault-injection variables that change it. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@SystemTest
class SimHttpApiTest {
    private static final String CHAT = "{\"model\":\"qwenvl\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}],"
            + "\"max_tokens\":%d%s}";

    private SimNode node;

    @BeforeAll
    void start(@TempDir Path dir) {
        node = SimNode.builder(dir).name("api").flags("--served-model-name", "qwenvl", "--enable-request-id-headers",
                "--max-model-len", "64").start();
    }

    @AfterAll
    void stop() {
        if (node != null) {
            node.close();
        }
    }

    /**
     * A proxy keeps hundreds of connections to a node open between requests; the JDK server's default closed
     * every idle one beyond 200, and the proxy found them closed under its next request.
     */
    @Test
    void hundredsOfIdleKeepAliveConnectionsStayOpen() throws IOException {
        List<Socket> sockets = new ArrayList<>();
        try {
            for (int i = 0; i < 300; i++) {
                Socket socket = new Socket("127.0.0.1", node.port());
                socket.setSoTimeout(30_000);
                sockets.add(socket);
                assertThat(healthOn(socket)).as("first request on connection " + i).startsWith("HTTP/1.1 200");
            }
            for (int i = 0; i < sockets.size(); i++) {
                assertThat(healthOn(sockets.get(i))).as("second request on connection " + i).startsWith("HTTP/1.1 200");
            }
        } finally {
            for (Socket socket : sockets) {
                socket.close();
            }
        }
    }

    /** GET /health on a kept-alive connection; the status line, or "closed" when the server had closed it. */
    private static String healthOn(Socket socket) throws IOException {
        try {
            socket.getOutputStream().write("GET /health HTTP/1.1\r\nHost: sim\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
        } catch (IOException e) {
            return "closed: " + e.getMessage();
        }
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        InputStream in = socket.getInputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int b;
            try {
                b = in.read();
            } catch (IOException e) {
                return "closed: " + e.getMessage();
            }
            if (b < 0) {
                return "closed";
            }
            head.write(b);
        }
        return head.toString(StandardCharsets.US_ASCII); // /health answers without a body
    }

    @Test
    void healthModelsVersion() {
        assertThat(get(node.baseUrl() + "/health").statusCode()).isEqualTo(200);
        JsonNode models = json(get(node.baseUrl() + "/v1/models"));
        assertThat(models.path("data").get(0).path("id").asText()).isEqualTo("qwenvl");
        assertThat(models.path("data").get(0).path("root").asText()).isEqualTo(SimNode.MODEL);
        assertThat(json(get(node.baseUrl() + "/version")).path("version").asText()).startsWith("0.13.0");
        assertThat(get(node.baseUrl() + "/nothing").statusCode()).isEqualTo(404);
        assertThat(post(node.baseUrl() + "/health", "{}", Map.of()).statusCode()).isEqualTo(405);
    }

    @Test
    void chatIsDeterministicHonoursMaxTokensAndEchoesTheRequestId() {
        HttpResponse<String> first = post(node.baseUrl() + "/v1/chat/completions", CHAT.formatted("a cat", 5, ""),
                Map.of("X-Request-Id", "req-1"));
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.headers().firstValue("X-Request-Id")).contains("req-1");
        JsonNode body = json(first);
        assertThat(body.path("id").asText()).isEqualTo("chatcmpl-req-1");
        String text = body.path("choices").get(0).path("message").path("content").asText();
        assertThat(text.strip().split(" ")).hasSize(5);
        assertThat(body.path("usage").path("completion_tokens").asInt()).isEqualTo(5);

        String again = json(post(node.baseUrl() + "/v1/chat/completions", CHAT.formatted("a cat", 5, ""), Map.of()))
                .path("choices").get(0).path("message").path("content").asText();
        String other = json(post(node.baseUrl() + "/v1/chat/completions", CHAT.formatted("a dog", 5, ""), Map.of()))
                .path("choices").get(0).path("message").path("content").asText();
        assertThat(again).isEqualTo(text);
        assertThat(other).isNotEqualTo(text);
    }

    @Test
    void chatStreamsServerSentEventsEndingInDone() {
        HttpResponse<String> response = post(node.baseUrl() + "/v1/chat/completions",
                CHAT.formatted("a cat", 4, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}"),
                Map.of("X-Request-Id", "s-1"));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        List<String> events = events(response.body());
        assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
        StringBuilder text = new StringBuilder();
        int contentChunks = 0;
        for (String event : events.subList(0, events.size() - 1)) {
            JsonNode chunk = json(event);
            assertThat(chunk.path("id").asText()).isEqualTo("chatcmpl-s-1");
            if (chunk.path("choices").size() > 0 && !chunk.path("choices").get(0).path("delta").path("content").asText().isEmpty()) {
                contentChunks++;
                text.append(chunk.path("choices").get(0).path("delta").path("content").asText());
            }
        }
        assertThat(contentChunks).isEqualTo(4);
        assertThat(json(events.get(events.size() - 2)).path("usage").path("completion_tokens").asInt()).isEqualTo(4);
        String unstreamed = json(post(node.baseUrl() + "/v1/chat/completions", CHAT.formatted("a cat", 4, ""), Map.of()))
                .path("choices").get(0).path("message").path("content").asText();
        assertThat(text.toString()).isEqualTo(unstreamed);
    }

    @Test
    void completionsStreamAndNot() {
        JsonNode body = json(post(node.baseUrl() + "/v1/completions",
                "{\"model\":\"qwenvl\",\"prompt\":\"once upon\",\"max_tokens\":3}", Map.of("X-Request-Id", "c-1")));
        assertThat(body.path("id").asText()).isEqualTo("cmpl-c-1");
        assertThat(body.path("choices").get(0).path("text").asText().strip().split(" ")).hasSize(3);
        List<String> events = events(post(node.baseUrl() + "/v1/completions",
                "{\"prompt\":\"once upon\",\"max_tokens\":3,\"stream\":true}", Map.of()).body());
        assertThat(events).hasSize(4).last().isEqualTo("[DONE]");
        assertThat(json(events.get(2)).path("choices").get(0).path("finish_reason").asText()).isEqualTo("length");
    }

    @Test
    void rejectsBadRequestsAsVllmDoes() {
        HttpResponse<String> wrongModel = post(node.baseUrl() + "/v1/chat/completions",
                "{\"model\":\"other\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", Map.of());
        assertThat(wrongModel.statusCode()).isEqualTo(404);
        assertThat(json(wrongModel).path("error").path("message").asText()).contains("`other` does not exist");
        assertThat(post(node.baseUrl() + "/v1/chat/completions", "{not json", Map.of()).statusCode()).isEqualTo(400);
        assertThat(post(node.baseUrl() + "/v1/chat/completions", "{\"model\":\"qwenvl\"}", Map.of()).statusCode())
                .isEqualTo(400);
        assertThat(post(node.baseUrl() + "/v1/chat/completions", CHAT.formatted("x", 0, ""), Map.of()).statusCode())
                .isEqualTo(400);
        HttpResponse<String> tooLong = post(node.baseUrl() + "/v1/chat/completions", CHAT.formatted("x", 100, ""), Map.of());
        assertThat(tooLong.statusCode()).isEqualTo(400);
        assertThat(tooLong.body()).contains("maximum context length is 64");
    }

    @Test
    void metricsCountTokensAndRequests() {
        double before = metric(node.baseUrl(), "vllm:generation_tokens_total");
        double successBefore = metric(node.baseUrl(), "vllm:request_success_total");
        post(node.baseUrl() + "/v1/chat/completions", CHAT.formatted("count me", 7, ""), Map.of());
        assertThat(metric(node.baseUrl(), "vllm:generation_tokens_total")).isGreaterThanOrEqualTo(before + 7);
        assertThat(metric(node.baseUrl(), "vllm:request_success_total")).isGreaterThanOrEqualTo(successBefore + 1);
        assertThat(metric(node.baseUrl(), "vllm:num_requests_waiting")).isZero();
        assertThat(metric(node.baseUrl(), "vllm:kv_cache_usage_perc")).isBetween(0.0, 1.0);
        assertThat(metric(node.baseUrl(), "vllm:num_requests_running")).isGreaterThanOrEqualTo(0);
    }

    @Test
    void healthStatusCanBeForced(@TempDir Path other) {
        try (SimNode sick = SimNode.builder(other).name("sick").env("VLLM_SIM_HEALTH_STATUS", "503").start()) {
            assertThat(get(sick.baseUrl() + "/health").statusCode()).isEqualTo(503);
            assertThat(get(sick.baseUrl() + "/v1/models").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void crashesAfterTheConfiguredNumberOfRequests(@TempDir Path other) {
        try (SimNode fragile = SimNode.builder(other).name("fragile").env("VLLM_SIM_CRASH_AFTER_REQUESTS", "2")
                .env("VLLM_SIM_TOKEN_DELAY_MS", "1").start()) {
            String request = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":2}";
            assertThat(post(fragile.baseUrl() + "/v1/chat/completions", request, Map.of()).statusCode()).isEqualTo(200);
            assertThat(post(fragile.baseUrl() + "/v1/chat/completions", request, Map.of()).statusCode()).isEqualTo(200);
            assertThat(fragile.awaitExit(Duration.ofSeconds(30))).isNotZero();
            assertThat(fragile.log()).contains("EngineCore encountered a fatal error", "Traceback (most recent call last)");
        }
    }

    private static List<String> events(String body) {
        List<String> events = new ArrayList<>();
        for (String block : body.split("\n\n")) {
            if (block.startsWith("data: ")) {
                events.add(block.substring("data: ".length()));
            }
        }
        return events;
    }
}
