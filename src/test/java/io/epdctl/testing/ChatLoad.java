package io.epdctl.testing;

import io.epdctl.lifecycle.SmokeRequest;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A client load for tests of changes under traffic: image chat requests through a proxy from a few threads until
 * closed; counts answers and failures by cause. A request whose connection ended before any byte of the answer is
 * sent again, up to 4 times, as OpenAI clients do on a connection error (see {@link #sendOnce}).
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
                        HttpResponse<String> answer = sendOnce(http, proxyUrl, SmokeRequest.chatBody(model));
                        if (answer == null && ++attempts < 4) {
                            resent.incrementAndGet();
                            continue;
                        }
                        attempts = 0;
                        if (answer == null) {
                            failures.computeIfAbsent("connection closed before any byte, 4 times", k -> new AtomicInteger())
                                    .incrementAndGet();
                        } else if (answer.statusCode() == 200 && answer.body().contains("\"choices\"")) {
                            answered.incrementAndGet();
                        } else {
                            failures.computeIfAbsent("HTTP " + answer.statusCode() + ": " + answer.body(), k -> new AtomicInteger())
                                    .incrementAndGet();
                        }
                    } catch (Exception e) {
                        attempts = 0;
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

    /**
     * Sends one chat request; its answer, or null when the connection ended before any byte of an answer came (closed
     * or reset, neither refused nor timed out): the proxy never read the request (a proxy that drains drops what
     * arrives on a connection it closes, and the kernel resets connections queued at a listener that closes), so the
     * client may send it again, as OpenAI clients do on a connection error. A connection that ends within the answer
     * throws.
     */
    public static HttpResponse<String> sendOnce(HttpClient http, String proxyUrl, String body) throws IOException, InterruptedException {
        AtomicBoolean headers = new AtomicBoolean();
        try {
            return http.send(HttpRequest.newBuilder(URI.create(proxyUrl + "/v1/chat/completions"))
                    .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), info -> {
                        headers.set(true);
                        return HttpResponse.BodySubscribers.ofString(StandardCharsets.UTF_8);
                    });
        } catch (ConnectException | HttpTimeoutException e) {
            throw e;
        } catch (IOException e) {
            if (headers.get()) {
                throw e;
            }
            return null;
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
