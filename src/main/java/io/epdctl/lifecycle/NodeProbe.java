package io.epdctl.lifecycle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.state.ProcessRecord;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

/**
 * Asks a vLLM-compatible server over HTTP whether it is ready and how busy it is. Ready means more than
 * "the port answers": {@code /health} is 200 and {@code /v1/models} lists the served model.
 * <p>
 * It uses {@link HttpURLConnection}, not the JDK's {@code HttpClient}: on the cold JVM of every epdctl
 * command, the first request costs about 40 ms with it against 350 ms with {@code HttpClient} (which
 * loads and sets up TLS even for plain HTTP). Requests go straight to the nodes, never through a proxy.
 */
public final class NodeProbe {
    private final int connectTimeoutMillis;
    private final ObjectMapper json = new ObjectMapper();

    public NodeProbe(Duration connectTimeout) {
        this.connectTimeoutMillis = Math.toIntExact(connectTimeout.toMillis());
    }

    /** An HTTP answer: its status and body. */
    private record Answer(int status, String body) {
    }

    /** What a probe saw; {@code detail} says why it is not ready. */
    public record Readiness(boolean listening, boolean ready, String detail) {
    }

    /** The load figures of {@code /metrics}; null where the server does not export one. */
    public record Load(Double running, Double waiting, Double kvCacheUsage) {
    }

    /** A node's or the proxy's readiness, each by its own routes. */
    public Readiness readiness(ProcessRecord process, String servedModelName, Duration timeout) {
        if (!process.servesHttp()) {
            // A headless rank: running is all it can say (asked of its host); its node's first process answers for it.
            return new Readiness(true, true, "headless (the node's first process answers for its ranks)");
        }
        return process.isProxy()
                ? proxyReadiness(process.address(), process.port(), process.readiness(), timeout)
                : readiness(process.address(), process.port(), servedModelName, timeout);
    }

    public Readiness readiness(String address, int port, String servedModelName, Duration timeout) {
        return probed(timeout, () -> {
            Answer health = get(address, port, "/health", timeout);
            if (health.status() != 200) {
                return new Readiness(true, false, "/health answers " + health.status());
            }
            if (servedModelName == null) {
                return new Readiness(true, true, "ready");
            }
            Answer models = get(address, port, "/v1/models", timeout);
            if (models.status() != 200) {
                return new Readiness(true, false, "/v1/models answers " + models.status());
            }
            for (JsonNode model : json.readTree(models.body()).path("data")) {
                if (servedModelName.equals(model.path("id").asText())) {
                    return new Readiness(true, true, "ready");
                }
            }
            return new Readiness(true, false, "/v1/models does not list " + servedModelName);
        });
    }

    /**
     * Whether a proxy is ready: epdctl's proxy answers {@code /health} 200 only when every role has a
     * healthy backend; the vLLM-Ascend script has no {@code /health}, only {@code /healthcheck}.
     */
    public Readiness proxyReadiness(String address, int port, Duration timeout) {
        return proxyReadiness(address, port, null, timeout);
    }

    /** At {@code route}, the proxy's own (its kind's); without one, {@code /health} and then {@code /healthcheck}. */
    public Readiness proxyReadiness(String address, int port, String route, Duration timeout) {
        if (route != null) {
            return probed(timeout, () -> {
                Answer health = get(address, port, route, timeout);
                return health.status() == 200 ? new Readiness(true, true, "ready")
                        : new Readiness(true, false, route.equals("/health") ? ProxyHealth.reason(health.status(), health.body())
                                : route + " answers " + health.status());
            });
        }
        return probed(timeout, () -> {
            Answer health = get(address, port, "/health", timeout);
            if (health.status() == 404) {
                health = get(address, port, "/healthcheck", timeout);
            }
            if (health.status() == 200) {
                return new Readiness(true, true, "ready");
            }
            return new Readiness(true, false, ProxyHealth.reason(health.status(), health.body()));
        });
    }

    private interface HttpProbe {
        Readiness ask() throws IOException;
    }

    /** A probe's answer, or what keeping it from answering says about the server. */
    private static Readiness probed(Duration timeout, HttpProbe probe) {
        try {
            return probe.ask();
        } catch (ConnectException e) {
            return new Readiness(false, false, "not listening yet");
        } catch (SocketTimeoutException e) {
            return new Readiness(true, false, "no answer within " + timeout.toMillis() + " ms");
        } catch (IOException e) {
            return new Readiness(false, false, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    /** The answer to one chat completion request, or why there was none. */
    public record Completion(int status, String body, String failure) {
        public boolean succeeded() {
            return failure == null && status == 200;
        }

        public String describe() {
            return failure != null ? failure : "HTTP " + status + ": " + abbreviate(body);
        }
    }

    public Completion chat(String address, int port, String body, Duration timeout) {
        try {
            Answer answer = exchange(address, port, "/v1/chat/completions", timeout, body);
            return new Completion(answer.status(), answer.body(), null);
        } catch (SocketTimeoutException e) {
            return new Completion(0, "", "no answer within " + timeout.toSeconds() + " s");
        } catch (IOException e) {
            return new Completion(0, "", e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    private static String abbreviate(String text) {
        String line = text.strip().replaceAll("\\s+", " ");
        return line.length() <= 300 ? line : line.substring(0, 300) + "...";
    }

    public Load load(String address, int port, Duration timeout) {
        try {
            Answer metrics = get(address, port, "/metrics", timeout);
            if (metrics.status() != 200) {
                return new Load(null, null, null);
            }
            Map<String, Double> values = PrometheusText.parse(metrics.body());
            Double kvCache = values.getOrDefault("vllm:kv_cache_usage_perc", values.get("vllm:gpu_cache_usage_perc"));
            return new Load(values.get("vllm:num_requests_running"), values.get("vllm:num_requests_waiting"), kvCache);
        } catch (IOException e) {
            return new Load(null, null, null);
        }
    }

    private Answer get(String address, int port, String path, Duration timeout) throws IOException {
        return exchange(address, port, path, timeout, null);
    }

    /** A GET, or with {@code jsonBody} a POST; the body is read to its end, so that the connection is kept for the next request. */
    private Answer exchange(String address, int port, String path, Duration timeout, String jsonBody) throws IOException {
        HttpURLConnection connection = (HttpURLConnection) uri(address, port, path).toURL().openConnection(Proxy.NO_PROXY);
        connection.setConnectTimeout(connectTimeoutMillis);
        connection.setReadTimeout(Math.toIntExact(timeout.toMillis()));
        if (jsonBody != null) {
            byte[] bytes = jsonBody.getBytes(StandardCharsets.UTF_8);
            connection.setRequestMethod("POST");
            connection.setRequestProperty("Content-Type", "application/json");
            connection.setFixedLengthStreamingMode(bytes.length);
            connection.setDoOutput(true);
            try (OutputStream out = connection.getOutputStream()) {
                out.write(bytes);
            }
        }
        int status = connection.getResponseCode();
        try (InputStream in = status >= 400 ? connection.getErrorStream() : connection.getInputStream()) {
            return new Answer(status, in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    static URI uri(String address, int port, String path) {
        String host = address.contains(":") && !address.startsWith("[") ? "[" + address + "]" : address;
        return URI.create("http://" + host + ":" + port + path);
    }
}
