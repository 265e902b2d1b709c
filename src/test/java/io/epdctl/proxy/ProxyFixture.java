package io.epdctl.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SimNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What a test of the proxy in front of real simulators holds: a marker for every simulator's environment (so that the
 * process table shows whatever a test left behind), what to close after the test, the proxy's log and an HTTP client.
 * {@link #close} closes everything, last first, and fails when a simulator with the marker is still running.
 */
final class ProxyFixture implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String markerVariable;
    private final String marker = UUID.randomUUID().toString();
    private final List<AutoCloseable> resources = new ArrayList<>();
    private final List<String> log = new CopyOnWriteArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    ProxyFixture(String markerVariable) {
        this.markerVariable = markerVariable;
    }

    /** The marker, as a simulator's environment carries it. */
    Map<String, String> env() {
        return Map.of(markerVariable, marker);
    }

    /** {@code env} and one variable more. */
    static Map<String, String> with(Map<String, String> env, String name, String value) {
        Map<String, String> more = new java.util.LinkedHashMap<>(env);
        more.put(name, value);
        return Map.copyOf(more);
    }

    /** What the proxies this fixture started logged. */
    List<String> log() {
        return log;
    }

    <T extends AutoCloseable> T closing(T resource) {
        resources.add(resource);
        return resource;
    }

    EpdProxy proxy(ProxyConfig config) {
        return closing(EpdProxy.start(config, log::add, Duration.ofSeconds(30)));
    }

    static List<Endpoint> endpoints(List<SimNode> nodes) {
        return nodes.stream().map(node -> new Endpoint("127.0.0.1", node.port())).toList();
    }

    HttpResponse<String> post(EpdProxy proxy, String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(EpdProxy proxy, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(json, e);
        }
    }

    /** The text of a streamed answer's events, joined. */
    static String streamedText(String events) {
        StringBuilder text = new StringBuilder();
        for (String line : events.split("\n")) {
            if (line.startsWith("data: {")) {
                text.append(parse(line.substring(6)).path("choices").path(0).path("delta").path("content").asText(""));
            }
        }
        return text.toString();
    }

    /** Waits (at most a minute) until the proxy holds nothing of any request: no client's, no prefill's, no backend's. */
    static void assertAllFreed(EpdProxy proxy) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (!(proxy.requestsInFlight() == 0 && proxy.requestsAwaitingPrefill() == 0 && proxy.backendRequestsInFlight() == 0)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("never happened: every request's state freed");
            }
            Thread.sleep(20);
        }
    }

    @Override
    public void close() throws Exception {
        try {
            for (int i = resources.size() - 1; i >= 0; i--) {
                resources.get(i).close();
            }
        } finally {
            assertThat(ProcessTable.killAll(markerVariable, marker)).as("simulators left running").isZero();
        }
    }
}
