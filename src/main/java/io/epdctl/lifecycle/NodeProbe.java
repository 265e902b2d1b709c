package io.epdctl.lifecycle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.state.ProcessRecord;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.Map;

/**
 * Asks a vLLM-compatible server over HTTP whether it is ready and how busy it is. Ready means more than
 * "the port answers": {@code /health} is 200 and {@code /v1/models} lists the served model.
 */
public final class NodeProbe {
    private final HttpClient client;
    private final ObjectMapper json = new ObjectMapper();

    public NodeProbe(Duration connectTimeout) {
        this.client = HttpClient.newBuilder().connectTimeout(connectTimeout).version(HttpClient.Version.HTTP_1_1).build();
    }

    /** What a probe saw; {@code detail} says why it is not ready. */
    public record Readiness(boolean listening, boolean ready, String detail) {
    }

    /** The load figures of {@code /metrics}; null where the server does not export one. */
    public record Load(Double running, Double waiting, Double kvCacheUsage) {
    }

    /** A node's or the proxy's readiness, each by its own routes. */
    public Readiness readiness(ProcessRecord process, String servedModelName, Duration timeout) {
        return process.isProxy()
                ? proxyReadiness(process.address(), process.port(), timeout)
                : readiness(process.address(), process.port(), servedModelName, timeout);
    }

    public Readiness readiness(String address, int port, String servedModelName, Duration timeout) {
        return probed(timeout, () -> {
            HttpResponse<String> health = get(address, port, "/health", timeout);
            if (health.statusCode() != 200) {
                return new Readiness(true, false, "/health answers " + health.statusCode());
            }
            if (servedModelName == null) {
                return new Readiness(true, true, "ready");
            }
            HttpResponse<String> models = get(address, port, "/v1/models", timeout);
            if (models.statusCode() != 200) {
                return new Readiness(true, false, "/v1/models answers " + models.statusCode());
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
        return probed(timeout, () -> {
            HttpResponse<String> health = get(address, port, "/health", timeout);
            if (health.statusCode() == 404) {
                health = get(address, port, "/healthcheck", timeout);
            }
            if (health.statusCode() == 200) {
                return new Readiness(true, true, "ready");
            }
            return new Readiness(true, false, "/health answers " + health.statusCode() + ": " + abbreviate(health.body()));
        });
    }

    private interface HttpProbe {
        Readiness ask() throws IOException, InterruptedException;
    }

    /** A probe's answer, or what keeping it from answering says about the server. */
    private static Readiness probed(Duration timeout, HttpProbe probe) {
        try {
            return probe.ask();
        } catch (ConnectException e) {
            return new Readiness(false, false, "not listening yet");
        } catch (HttpTimeoutException e) {
            return new Readiness(true, false, "no answer within " + timeout.toMillis() + " ms");
        } catch (IOException e) {
            return new Readiness(false, false, e.getClass().getSimpleName() + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Readiness(false, false, "interrupted");
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
        HttpRequest request = HttpRequest.newBuilder(uri(address, port, "/v1/chat/completions"))
                .timeout(timeout)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
        try {
            HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
            return new Completion(response.statusCode(), response.body(), null);
        } catch (HttpTimeoutException e) {
            return new Completion(0, "", "no answer within " + timeout.toSeconds() + " s");
        } catch (IOException e) {
            return new Completion(0, "", e.getClass().getSimpleName() + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Completion(0, "", "interrupted");
        }
    }

    private static String abbreviate(String text) {
        String line = text.strip().replaceAll("\\s+", " ");
        return line.length() <= 300 ? line : line.substring(0, 300) + "...";
    }

    public Load load(String address, int port, Duration timeout) {
        try {
            HttpResponse<String> metrics = get(address, port, "/metrics", timeout);
            if (metrics.statusCode() != 200) {
                return new Load(null, null, null);
            }
            Map<String, Double> values = PrometheusText.parse(metrics.body());
            Double kvCache = values.getOrDefault("vllm:kv_cache_usage_perc", values.get("vllm:gpu_cache_usage_perc"));
            return new Load(values.get("vllm:num_requests_running"), values.get("vllm:num_requests_waiting"), kvCache);
        } catch (IOException e) {
            return new Load(null, null, null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Load(null, null, null);
        }
    }

    private HttpResponse<String> get(String address, int port, String path, Duration timeout)
            throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(uri(address, port, path)).timeout(timeout).GET().build();
        return client.send(request, HttpResponse.BodyHandlers.ofString());
    }

    static URI uri(String address, int port, String path) {
        String host = address.contains(":") && !address.startsWith("[") ? "[" + address + "]" : address;
        return URI.create("http://" + host + ":" + port + path);
    }
}
