package io.epdctl.proxy;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.RequestOptions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;

/** Like the script: forwards {@code /start_profile} or {@code /stop_profile} to every backend and reports each answer. */
final class Profiling {
    private final HttpClient client;
    private final ProxyState state;

    Profiling(HttpClient client, ProxyState state) {
        this.client = client;
        this.state = state;
    }

    void forward(HttpServerRequest request) {
        request.body().onSuccess(raw -> {
            Map<String, Future<Map<String, Object>>> answers = new LinkedHashMap<>();
            for (BackendPool pool : state.pools()) {
                for (Backend backend : pool.backends()) {
                    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST)
                            .setHost(backend.endpoint().host()).setPort(backend.endpoint().port())
                            .setURI(request.path()).setTimeout(10_000)
                            .putHeader(HttpHeaders.CONTENT_TYPE, "application/json");
                    Future<Map<String, Object>> answer = client.request(options)
                            .compose(backendRequest -> backendRequest.send(raw.length() == 0 ? Buffer.buffer("{}") : raw))
                            .compose(response -> response.body().map(body -> Map.<String, Object>of(
                                    "status_code", response.statusCode(), "body", body.toString())))
                            .otherwise(failure -> Map.of("error", String.valueOf(failure.getMessage())));
                    answers.put(backend.toString(), answer);
                }
            }
            Future.join(new ArrayList<>(answers.values())).onComplete(all -> {
                Map<String, Object> results = new LinkedHashMap<>();
                answers.forEach((backend, answer) -> results.put(backend, answer.result()));
                request.response().putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                        .end(ProxyJson.buffer(Map.of("status", "done", "results", results)));
            });
        });
    }
}
