package io.epdctl.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import io.epdctl.topology.Role;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Map;

/**
 * The control channel: HTTP on 127.0.0.1 only, on a port the system picks, apart from the clients' port.
 * Every request needs {@code Authorization: Bearer TOKEN} (the token of the {@link ControlFile}); without
 * it, 401 and nothing changes. {@code POST /metaserver} takes a decoder's callback passed on by the
 * proxy that took over this one's port. {@code GET /backends}, {@code POST /backends} (add), {@code POST
 * /backends/drain}, {@code POST /backends/remove}; bodies are JSON {@code {"role", "host", "port"}}, a
 * drain also {@code "timeout_seconds"}.
 */
final class ControlServer {
    static final String LOOPBACK = "127.0.0.1";
    /** A decoder's callback for a request of this proxy, passed on by the proxy that took over its port. */
    static final String METASERVER = "/metaserver";
    private final BackendControl control;
    private final java.util.function.Consumer<HttpServerRequest> metaserver;
    private volatile ControlFile access;
    private volatile byte[] expected;

    private ControlServer(BackendControl control, java.util.function.Consumer<HttpServerRequest> metaserver) {
        this.control = control;
        this.metaserver = metaserver;
    }

    /** Listens on a free loopback port, with a new token; nothing is authorized until both are known. */
    static Future<ControlServer> start(Vertx vertx, BackendControl control,
            java.util.function.Consumer<HttpServerRequest> metaserver) {
        ControlServer controlServer = new ControlServer(control, metaserver);
        HttpServer server = vertx.createHttpServer(new HttpServerOptions());
        server.requestHandler(controlServer::route);
        return server.listen(0, LOOPBACK).map(listening -> {
            ControlFile file = ControlFile.fresh(listening.actualPort());
            controlServer.expected = ("Bearer " + file.token()).getBytes(StandardCharsets.UTF_8);
            controlServer.access = file;
            return controlServer;
        });
    }

    /** Its port and token. */
    ControlFile access() {
        return access;
    }

    private boolean authorized(HttpServerRequest request) {
        String given = request.getHeader(HttpHeaders.AUTHORIZATION);
        byte[] expected = this.expected;
        // compared in constant time: the time taken tells nothing about the token
        return expected != null && given != null && MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), expected);
    }

    private void route(HttpServerRequest request) {
        if (!authorized(request)) {
            request.response().setStatusCode(401).putHeader("WWW-Authenticate", "Bearer")
                    .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(ProxyJson.error(401, "the control channel needs Authorization: Bearer and the token of the proxy's control file"));
            return;
        }
        String path = request.path();
        HttpMethod method = request.method();
        if (method == HttpMethod.POST && path.equals(METASERVER)) {
            metaserver.accept(request);
            return;
        }
        if (method == HttpMethod.GET && path.equals("/backends")) {
            answer(request, 200, Map.of("backends", control.list()));
            return;
        }
        if (method != HttpMethod.POST || !(path.equals("/backends") || path.equals("/backends/drain")
                || path.equals("/backends/remove"))) {
            fail(request, ProxyFailure.of(404, "no control operation " + method + " " + path));
            return;
        }
        request.body().onFailure(failure -> fail(request, ProxyFailure.of(400, failure.getMessage())))
                .onSuccess(body -> {
                    Target target;
                    try {
                        target = Target.parse(body, path.equals("/backends/drain"));
                    } catch (ProxyFailure bad) {
                        fail(request, bad);
                        return;
                    }
                    Future<?> done = switch (path) {
                        case "/backends" -> control.add(target.role(), target.endpoint())
                                .map(BackendControl::describe);
                        case "/backends/drain" -> control.drain(target.role(), target.endpoint(), target.timeout());
                        default -> control.remove(target.role(), target.endpoint());
                    };
                    done.onSuccess(result -> answer(request, path.equals("/backends") ? 201 : 200, result))
                            .onFailure(failure -> fail(request, failure));
                });
    }

    private static void answer(HttpServerRequest request, int status, Object body) {
        request.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .end(ProxyJson.buffer(body));
    }

    private static void fail(HttpServerRequest request, Throwable failure) {
        int status = failure instanceof ProxyFailure known ? known.status() : 500;
        request.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .end(ProxyJson.error(status, failure.getMessage()));
    }

    /** Which backend an operation is about; a 400 saying what is wrong when the body does not say. */
    private record Target(Role role, Endpoint endpoint, Duration timeout) {
        static Target parse(Buffer body, boolean drain) {
            JsonNode json;
            try {
                json = ProxyJson.MAPPER.readTree(body.getBytes());
            } catch (IOException e) {
                throw ProxyFailure.of(400, "the body is not JSON");
            }
            if (json == null || !json.isObject()) {
                throw ProxyFailure.of(400, "the body must be a JSON object with role, host and port");
            }
            Role role = Role.fromYaml(json.path("role").asText(""));
            if (role == null) {
                throw ProxyFailure.of(400, "role must be one of " + String.join(", ", Role.yamlNames())
                        + ", got " + json.path("role"));
            }
            String host = json.path("host").asText("");
            if (host.isBlank()) {
                throw ProxyFailure.of(400, "host is missing");
            }
            JsonNode port = json.path("port");
            if (!port.canConvertToInt() || !port.isIntegralNumber() || port.asInt() < 1 || port.asInt() > 65535) {
                throw ProxyFailure.of(400, "port must be a number between 1 and 65535, got " + port);
            }
            Duration timeout = Duration.ZERO;
            if (drain) {
                JsonNode seconds = json.path("timeout_seconds");
                if (!seconds.isNumber() || seconds.asDouble() < 0) {
                    throw ProxyFailure.of(400, "timeout_seconds must be a number of seconds, 0 or more, got " + seconds);
                }
                timeout = Duration.ofMillis(Math.round(seconds.asDouble() * 1000));
            }
            return new Target(role, new Endpoint(host, port.asInt()), timeout);
        }
    }
}
