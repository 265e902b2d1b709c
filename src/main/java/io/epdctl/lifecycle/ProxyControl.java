package io.epdctl.lifecycle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.proxy.ControlFile;
import io.epdctl.shell.Shell;
import io.epdctl.topology.Role;
import io.epdctl.transport.CommandResult;
import io.epdctl.transport.Transport;
import io.epdctl.transport.TransportException;
import io.epdctl.transport.Tunnel;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The control channel of a running built-in proxy, from wherever epdctl runs: the proxy's control file
 * (port and token) is read on the proxy's host over its transport, and requests go through a tunnel to
 * that loopback-only port. The token stays in this object's memory. Not thread-safe: one caller at a time.
 */
public final class ProxyControl implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(10);
    /** A request that changes nothing for long (list, add with its one probe, remove). */
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
    /** How often {@link #awaitHealthy} asks: the proxy re-probes a backend that is down every 200 ms. */
    private static final Duration HEALTH_POLL = Duration.ofMillis(100);
    private final String host;
    private final Tunnel tunnel;
    private final String token;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(READ_TIMEOUT).build();

    private ProxyControl(String host, Tunnel tunnel, String token) {
        this.host = host;
        this.tunnel = tunnel;
        this.token = token;
    }

    /**
     * One backend as the proxy has it. {@code unhealthyFor}: how long its probes have failed since it was last healthy,
     * null while it is healthy or has not been healthy yet (still loading).
     */
    public record Backend(Role role, String host, int port, boolean draining, boolean healthy, int inFlight, Duration unhealthyFor) {
        /** How the plan names it: {@code decode 10.0.0.2:8000}. */
        public String key() {
            return UpPlan.backendKey(role.yamlName(), host, port);
        }
    }

    /** What a drain left: {@code drained} when nothing was in flight any more, else {@code inFlight} were. */
    public record Drained(Backend backend, boolean drained, int inFlight) {
    }

    /**
     * Opens the control channel of the proxy that runs in {@code directory} (its run directory, where it
     * writes {@value ControlFile#NAME}) on {@code transport}'s host.
     */
    public static ProxyControl open(Transport transport, String directory) throws DeploymentException {
        String path = directory + "/" + ControlFile.NAME;
        String where = transport.host() + ": the proxy's control file " + path;
        CommandResult read;
        try {
            read = transport.run("cat -- " + Shell.quote(path), READ_TIMEOUT);
        } catch (TransportException e) {
            throw new DeploymentException(where + " cannot be read: " + e.getMessage());
        }
        if (read.exitCode() != 0) {
            throw new DeploymentException(where + " cannot be read (is the built-in proxy running?): "
                    + read.stderr().strip());
        }
        ControlFile access;
        try {
            access = ControlFile.parse(read.stdout());
        } catch (IllegalArgumentException e) {
            throw new DeploymentException(where + " is not a control file: " + e.getMessage());
        }
        try {
            return new ProxyControl(transport.host(), transport.tunnel(access.port()), access.token());
        } catch (TransportException e) {
            throw new DeploymentException(transport.host() + ": cannot reach the proxy's control channel: " + e.getMessage());
        }
    }

    /** Every backend, in the order encoder, pd, prefill, decode. */
    public List<Backend> list() throws DeploymentException {
        JsonNode answer = send("GET", "/backends", null, REQUEST_TIMEOUT);
        List<Backend> backends = new ArrayList<>();
        answer.path("backends").forEach(row -> backends.add(backend(row)));
        return backends;
    }

    /** Adds a backend; it gets requests once a probe finds it healthy ({@link Backend#healthy()}: the first probe's verdict). */
    public Backend add(Role role, String backendHost, int port) throws DeploymentException {
        return backend(send("POST", "/backends", target(role, backendHost, port), REQUEST_TIMEOUT));
    }

    /**
     * Waits until the proxy's probes find the backend healthy (it gets requests from then on), at most
     * {@code timeout}; the backend as it is then. Fails when it is not there or not healthy in time.
     */
    public Backend awaitHealthy(Role role, String backendHost, int port, Duration timeout) throws DeploymentException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Backend backend = list().stream()
                    .filter(candidate -> candidate.role() == role && candidate.host().equals(backendHost) && candidate.port() == port)
                    .findFirst()
                    .orElseThrow(() -> new DeploymentException(host + ": the proxy has no " + role.yamlName() + " backend "
                            + backendHost + ":" + port));
            if (backend.healthy()) {
                return backend;
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new DeploymentException(host + ": the proxy's probes did not find " + role.yamlName() + " backend "
                        + backendHost + ":" + port + " healthy within " + timeout.toSeconds() + " s");
            }
            try {
                Thread.sleep(HEALTH_POLL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DeploymentException(host + ": interrupted while waiting for the proxy to find a backend healthy");
            }
        }
    }

    /**
     * Stops new requests to the backend and waits until its requests in flight (a decoder's stream with its
     * prefill, and for the last prefiller the prefills still to come) have ended, at most {@code timeout}.
     */
    public Drained drain(Role role, String backendHost, int port, Duration timeout) throws DeploymentException {
        Map<String, Object> body = target(role, backendHost, port);
        body.put("timeout_seconds", timeout.toMillis() / 1000.0);
        JsonNode answer = send("POST", "/backends/drain", body, timeout.plus(REQUEST_TIMEOUT));
        return new Drained(backend(answer), answer.path("drained").asBoolean(), answer.path("in_flight").asInt());
    }

    /** Takes the backend out of the proxy; requests still on it go on to their end. */
    public Backend remove(Role role, String backendHost, int port) throws DeploymentException {
        return backend(send("POST", "/backends/remove", target(role, backendHost, port), REQUEST_TIMEOUT));
    }

    @Override
    public void close() {
        tunnel.close();
    }

    private static Map<String, Object> target(Role role, String backendHost, int port) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("role", role.yamlName());
        body.put("host", backendHost);
        body.put("port", port);
        return body;
    }

    private static Backend backend(JsonNode row) {
        return new Backend(Role.fromYaml(row.path("role").asText()), row.path("host").asText(), row.path("port").asInt(),
                row.path("state").asText().equals("draining"), row.path("healthy").asBoolean(), row.path("in_flight").asInt(),
                row.has("unhealthy_ms") ? Duration.ofMillis(row.path("unhealthy_ms").asLong()) : null);
    }

    private JsonNode send(String method, String path, Map<String, Object> body, Duration timeout) throws DeploymentException {
        String what = host + ": the proxy's control channel, " + method + " " + path;
        try {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + tunnel.localPort() + path))
                    .timeout(timeout)
                    .header("Authorization", "Bearer " + token)
                    .header("Content-Type", "application/json")
                    .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                            : HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)))
                    .build();
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            JsonNode answer = JSON.readTree(response.body());
            if (response.statusCode() >= 300) {
                throw new DeploymentException(what + ": " + response.statusCode() + " "
                        + answer.path("error").path("message").asText(response.body()));
            }
            return answer;
        } catch (IOException e) {
            throw new DeploymentException(what + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DeploymentException(what + ": interrupted");
        }
    }
}
