package io.epdctl.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SimCluster;
import io.epdctl.testing.SimNode;
import io.epdctl.testing.SystemTest;
import io.epdctl.topology.ProxyTuning;
import io.epdctl.topology.Role;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A proxy that stops drains first, and a new proxy takes over the port of a running one (SO_REUSEPORT)
 * while clients keep sending: no request fails.
 */
@SystemTest
class ProxyHandOverTest {
    private static final String CHAT = "{\"model\":\"qwenvl\",\"max_tokens\":8,\"stream\":true,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}";
    @TempDir
    Path dir;
    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void leavesNothingRunning() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
        assertThat(ProcessTable.killSurvivors(ProcessTable::startedByTests)).isEmpty();
    }

    @Test
    void stoppingWaitsForTheStreamsInFlight() throws Exception {
        TestBackend pd = TestBackend.start(Role.PD);
        resources.add(pd);
        pd.tokens = 20;
        pd.chunkDelayMillis = 20;
        EpdProxy proxy = EpdProxy.start(new ProxyConfig(new Endpoint("127.0.0.1", 0),
                new ProxyBackends(List.of(), List.of(pd.endpoint()), List.of(), List.of()),
                new ProxyTuning(3, Duration.ofMillis(1), Duration.ofSeconds(60), Duration.ofSeconds(60), 2,
                        Duration.ofSeconds(60))), line -> { }, Duration.ofSeconds(30));
        List<RawHttp> streams = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            RawHttp stream = RawHttp.post(proxy.port(), "/v1/chat/completions", CHAT);
            resources.add(stream);
            stream.readUntil("tok0");
            streams.add(stream);
        }

        CompletableFuture<Integer> left = CompletableFuture.supplyAsync(proxy::drainAndClose);

        for (RawHttp stream : streams) {
            String rest = stream.readToEnd();
            assertThat(rest).contains("tok19", "data: [DONE]");
            assertThat(RawHttp.endsWithLastChunk(rest)).isTrue();
        }
        assertThat(left.get(60, TimeUnit.SECONDS)).isZero();
    }

    @Test
    void anAnswerThatStartsWhileTheProxyDrainsClosesItsKeptAliveConnection() throws Exception {
        TestBackend pd = TestBackend.start(Role.PD);
        resources.add(pd);
        EpdProxy proxy = EpdProxy.start(new ProxyConfig(new Endpoint("127.0.0.1", 0),
                new ProxyBackends(List.of(), List.of(pd.endpoint()), List.of(), List.of()),
                new ProxyTuning(3, Duration.ofMillis(1), Duration.ofSeconds(60), Duration.ofSeconds(60), 2,
                        Duration.ofSeconds(60))), line -> { }, Duration.ofSeconds(30));
        java.net.http.HttpClient http = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1).build();
        java.net.URI chat = java.net.URI.create("http://127.0.0.1:" + proxy.port() + "/v1/chat/completions");
        java.util.function.Supplier<CompletableFuture<java.net.http.HttpResponse<String>>> send = () -> http.sendAsync(
                java.net.http.HttpRequest.newBuilder(chat).header("Content-Type", "application/json")
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString(CHAT.replace("\"stream\":true", "\"stream\":false"))).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(send.get().get(30, TimeUnit.SECONDS).headers().firstValue("connection")).as("kept alive before the drain").isEmpty();

        pd.holdAnswers = true;
        CompletableFuture<java.net.http.HttpResponse<String>> answer = send.get();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (pd.held() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        CompletableFuture<Integer> left = CompletableFuture.supplyAsync(proxy::drainAndClose);
        while (!refused(proxy.port()) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(refused(proxy.port())).as("the draining proxy stopped listening").isTrue();
        pd.release();

        java.net.http.HttpResponse<String> answered = answer.get(30, TimeUnit.SECONDS);
        assertThat(answered.statusCode()).isEqualTo(200);
        assertThat(answered.headers().firstValue("connection")).as("the client sends its next request elsewhere").hasValue("close");
        assertThat(left.get(60, TimeUnit.SECONDS)).isZero();
    }

    private static boolean refused(int port) {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    @Test
    void theProxyThatTookOverPassesOnTheCallbacksOfTheRequestsOfTheOneThatDrains() throws Exception {
        TestBackend p0 = TestBackend.start(Role.PREFILL);
        TestBackend d0 = TestBackend.start(Role.DECODE);
        resources.add(p0);
        resources.add(d0);
        Path controlFile = dir.resolve("proxy.control");
        ProxyBackends backends = new ProxyBackends(List.of(), List.of(), List.of(p0.endpoint()), List.of(d0.endpoint()));
        ProxyConfig config = new ProxyConfig(new Endpoint("127.0.0.1", 0), backends,
                new ProxyTuning(3, Duration.ofMillis(1), Duration.ofSeconds(60), Duration.ofSeconds(60), 2, Duration.ofSeconds(60)));
        List<String> oldLog = new CopyOnWriteArrayList<>();
        List<String> newLog = new CopyOnWriteArrayList<>();
        EpdProxy old = EpdProxy.start(config, oldLog::add, Duration.ofSeconds(30), controlFile);
        resources.add(old);
        d0.holdAnswers = true;
        CompletableFuture<String> answer = CompletableFuture.supplyAsync(() -> {
            try (RawHttp http = RawHttp.post(old.port(), "/v1/chat/completions", CHAT)) {
                return http.readToEnd();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (d0.held() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(d0.held()).as("the decoder holds the request before its callback").isEqualTo(1);

        EpdProxy successor = EpdProxy.start(config, newLog::add, Duration.ofSeconds(30), controlFile);
        resources.add(successor);
        assertThat(newLog).anyMatch(line -> line.startsWith("taking over from the proxy with the control channel on 127.0.0.1:"
                + old.control().port()));
        assertThat(String.join("\n", newLog)).doesNotContain(old.control().token());
        CompletableFuture<Integer> drained = CompletableFuture.supplyAsync(old::drainAndClose);
        // the callback reaches the port the successor now holds
        d0.metaserverPort = successor.port();
        d0.release();

        String whole = answer.get(60, TimeUnit.SECONDS);
        assertThat(whole).startsWith("HTTP/1.1 200");
        assertThat(RawHttp.endsWithLastChunk(whole)).isTrue();
        assertThat(d0.metaserverStatuses).containsExactly(200);
        assertThat(p0.generations()).hasSize(1);
        assertThat(drained.get(60, TimeUnit.SECONDS)).isZero();
        assertThat(ControlFile.parse(Files.readString(controlFile))).as("the successor's file stays").isEqualTo(successor.control());
    }

    @Test
    void aNewProxyTakesOverThePortOfARunningOneWithoutOneFailedRequest() throws Exception {
        SimNode pd0 = SimNode.builder(dir).name("pd0").flags(SimCluster.commonFlags())
                .env("VLLM_SIM_TOKEN_DELAY_MS", "5").start();
        resources.add(pd0);
        int port = SimNode.freePort();
        Process old = proxy(dir.resolve("a"), port, pd0);

        List<String> failures = new CopyOnWriteArrayList<>();
        AtomicInteger answered = new AtomicInteger();
        AtomicInteger sentAgain = new AtomicInteger();
        AtomicBoolean running = new AtomicBoolean(true);
        List<Thread> clients = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Thread client = new Thread(() -> {
                while (running.get()) {
                    // A new connection per request: each of the old proxy's connections ends with its request. A
                    // connection closed before any byte of its answer (one the old proxy's kernel queue still held
                    // when it closed its socket, or one it accepted but had read nothing from when it stopped) was
                    // never read: it is sent again, as OpenAI clients do on a connection error.
                    String answer = "";
                    for (int attempt = 1; attempt <= 5 && answer.isEmpty(); attempt++) {
                        if (attempt > 1) {
                            sentAgain.incrementAndGet();
                        }
                        try (RawHttp http = RawHttp.post(port, "/v1/chat/completions", CHAT)) {
                            answer = http.readToEnd();
                        } catch (IOException e) {
                            answer = "";
                        }
                    }
                    if (answer.startsWith("HTTP/1.1 200") && RawHttp.endsWithLastChunk(answer)
                            && dechunked(answer).endsWith("data: [DONE]\n\n")) {
                        answered.incrementAndGet();
                    } else {
                        failures.add(answer);
                    }
                }
            });
            client.start();
            clients.add(client);
        }
        try {
            await(answered, 20);
            Process successor = proxy(dir.resolve("b"), port, pd0);
            await(answered, answered.get() + 20);
            old.destroy(); // SIGTERM: stops accepting, drains, exits
            assertThat(old.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(old.exitValue()).isEqualTo(143);
            int afterHandOver = answered.get();
            await(answered, afterHandOver + 20);
            assertThat(successor.isAlive()).isTrue();
        } finally {
            running.set(false);
            for (Thread client : clients) {
                client.join();
            }
        }
        assertThat(failures).isEmpty();
        System.out.println("hand-over: " + answered.get() + " answered, " + sentAgain.get() + " sent again");
        assertThat(Files.readString(dir.resolve("a").resolve("proxy.log"))).contains("epdctl proxy: stopped")
                .doesNotContain("still in flight");
    }

    /** {@code epdctl proxy} in its own working directory; returns once it is ready. */
    private Process proxy(Path runDir, int port, SimNode backend) throws Exception {
        Files.createDirectories(runDir);
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.epdctl.cli.Main", "proxy", "--host", "127.0.0.1",
                "--port", String.valueOf(port), "--pd-hosts", "127.0.0.1", "--pd-ports", String.valueOf(backend.port()));
        Path log = runDir.resolve("proxy.log");
        Process process = new ProcessBuilder(command).directory(runDir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        resources.add(() -> {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        });
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!Files.readString(log).contains("ready on")) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("the proxy did not start: " + Files.readString(log));
            }
            Thread.sleep(20);
        }
        return process;
    }

    /** The body of a complete chunked answer, its chunks joined. */
    private static String dechunked(String answer) {
        String rest = answer.substring(answer.indexOf("\r\n\r\n") + 4);
        StringBuilder body = new StringBuilder();
        while (true) {
            int lineEnd = rest.indexOf("\r\n");
            int size = Integer.parseInt(rest.substring(0, lineEnd).strip(), 16);
            if (size == 0) {
                return body.toString();
            }
            body.append(rest, lineEnd + 2, lineEnd + 2 + size);
            rest = rest.substring(lineEnd + 2 + size + 2);
        }
    }

    private static void await(AtomicInteger answered, int count) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (answered.get() < count) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("only " + answered.get() + " answers, waited for " + count);
            }
            Thread.sleep(5);
        }
    }
}
