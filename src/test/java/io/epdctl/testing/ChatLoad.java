package io.epdctl.testing;

import io.epdctl.lifecycle.SmokeRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A client load for tests of changes under traffic: image chat requests through a proxy from a few threads until
 * closed; counts answers and failures by cause. A request whose connection was closed before any byte of the answer
 * is sent again, up to 4 times, as OpenAI clients do on a connection error: the proxy never read it (a proxy
 * hand-over closes such connections, see docs/proxy.md).
 */
public final class ChatLoad implements AutoCloseable {
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicInteger answered = new AtomicInteger();
    private final AtomicInteger resent = new AtomicInteger();
    private final Map<String, AtomicInteger> failures = new ConcurrentHashMap<>();
    private final List<Thread> threads = new ArrayList<>();

    /** Starts {@code clients} threads sending requests for {@code model} to {@code proxyUrl} (http://host:port). */
    public ChatLoad(String proxyUrl, String model, int clients) {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
        for (int i = 0; i < clients; i++) {
            Thread thread = new Thread(() -> {
                int attempts = 0;
                while (running.get()) {
                    try {
                        HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(proxyUrl + "/v1/chat/completions"))
                                .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(SmokeRequest.chatBody(model))).build(),
                                HttpResponse.BodyHandlers.ofString());
                        attempts = 0;
                        if (answer.statusCode() == 200 && answer.body().contains("\"choices\"")) {
                            answered.incrementAndGet();
                        } else {
                            failures.computeIfAbsent("HTTP " + answer.statusCode() + ": " + answer.body(), k -> new AtomicInteger())
                                    .incrementAndGet();
                        }
                    } catch (java.io.IOException e) {
                        if (String.valueOf(e.getMessage()).contains("received no bytes") && ++attempts < 4) {
                            resent.incrementAndGet();
                            continue;
                        }
                        attempts = 0;
                        failures.computeIfAbsent(e.getClass().getSimpleName() + ": " + e.getMessage(), k -> new AtomicInteger())
                                .incrementAndGet();
                    } catch (Exception e) {
                        failures.computeIfAbsent(e.getClass().getSimpleName() + ": " + e.getMessage(), k -> new AtomicInteger())
                                .incrementAndGet();
                    }
                }
            }, "load-" + i);
            thread.setDaemon(true);
            thread.start();
            threads.add(thread);
        }
    }

    public int answered() {
        return answered.get();
    }

    /** Failed requests by cause (a resent request that was then answered is no failure). */
    public Map<String, AtomicInteger> failures() {
        return failures;
    }

    @Override
    public void close() throws InterruptedException {
        running.set(false);
        for (Thread thread : threads) {
            thread.join(70_000);
        }
    }
}
