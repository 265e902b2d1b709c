package io.epdctl.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.epdctl.lifecycle.SmokeRequest;
import io.epdctl.testing.ChatLoad;
import io.epdctl.testing.Cli;
import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SimDeployment;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What clients see while a deployment changes (bin/bench-rollout): a steady load of image chat requests (half of
 * the clients streaming) through epdctl's proxy of a vllm-sim deployment with two nodes of every role, E+PD and
 * E+P+D, during each change in turn, all in one run: a rolling restart of every node ({@code restart --all}), a
 * scale-out by one node of each role and the scale-in back ({@code up} of the changed file), a change of the proxy's
 * own flags, and a node killed with SIGKILL that its restart policy brings back. Per case: requests answered, failed
 * requests by cause, requests sent again (their connection closed before any byte: a proxy hand-over closes such
 * connections, and OpenAI clients send them again), the longest pause without a completion, p50 and p99 latency (a
 * request's latency includes its resends) against the steady state's.
 */
public final class RolloutBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CLIENTS = 4;
    private static final Duration STEADY = Duration.ofSeconds(8);
    private static final int LOAD_MS = 1000;

    /**
     * One request: when it started and ended (nanos), why it failed (null: it did not), and how often it was sent again
     * because its connection was closed before any byte of the answer (as OpenAI clients do: the proxy never read it).
     */
    private record Sample(long start, long end, String failure, int resent) {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0) {
            System.err.println("usage: bin/bench-rollout");
            System.exit(2);
        }
        Path dir = Files.createTempDirectory("epdctl-bench-rollout");
        System.out.printf("%-8s %-22s %8s %7s %7s %10s %8s %8s %12s  %s%n", "layout", "case", "requests", "failed", "resent", "pause ms",
                "p50 ms", "p99 ms", "p99/steady", "failures by cause");
        run("E+PD", SimDeployment.builder(dir.resolve("epd")).startupDelayMs(LOAD_MS).combinedPrefillDecode(3, 3), List.of("e2", "pd2"), "pd0");
        run("E+P+D", SimDeployment.builder(dir.resolve("epPd")).startupDelayMs(LOAD_MS).shape(3, 3, 3), List.of("e2", "p2", "d2"), "d0");
    }

    private static void run(String layout, SimDeployment.Builder builder, List<String> extra, String crashed) throws Exception {
        try (SimDeployment deployment = builder.write()) {
            String three = Files.readString(deployment.file());
            String two = Arrays.stream(three.split("\n"))
                    .filter(line -> extra.stream().noneMatch(node -> line.contains("name: " + node + ","))).reduce("", (a, b) -> a + b + "\n");
            Files.writeString(deployment.file(), two);
            require(deployment.up(), "up");
            ConcurrentLinkedQueue<Sample> samples = new ConcurrentLinkedQueue<>();
            AtomicBoolean running = new AtomicBoolean(true);
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                boolean stream = i % 2 == 1;
                Thread client = new Thread(() -> load(deployment.proxyUrl(), stream, running, samples), "client-" + i);
                client.setDaemon(true);
                client.start();
                clients.add(client);
            }
            try {
                Thread.sleep(2000); // warm-up, not measured
                long steadyStart = System.nanoTime();
                Thread.sleep(STEADY.toMillis());
                double steadyP99 = report(layout, "steady", samples, steadyStart, System.nanoTime(), Double.NaN);

                long start = System.nanoTime();
                require(deployment.epdctl("restart", "--all", "-q"), "restart --all");
                report(layout, "rolling restart, all", samples, start, System.nanoTime(), steadyP99);

                Files.writeString(deployment.file(), three);
                start = System.nanoTime();
                require(deployment.up("-q"), "scale-out");
                report(layout, "scale-out, +1 per role", samples, start, System.nanoTime(), steadyP99);

                Files.writeString(deployment.file(), two);
                start = System.nanoTime();
                require(deployment.up("-q"), "scale-in");
                report(layout, "scale-in, -1 per role", samples, start, System.nanoTime(), steadyP99);

                Files.writeString(deployment.file(), two.replaceFirst("(?m)^proxy: \\{", "proxy: {args: {max-retries: 4}, "));
                start = System.nanoTime();
                require(deployment.up("-q"), "proxy flags");
                report(layout, "proxy's own flags", samples, start, System.nanoTime(), steadyP99);

                start = System.nanoTime();
                killServer(deployment, crashed);
                awaitReady(deployment);
                report(layout, "crash of " + crashed + ", healed", samples, start, System.nanoTime(), steadyP99);
            } finally {
                running.set(false);
                for (Thread client : clients) {
                    client.join(70_000);
                }
                deployment.epdctl("down", "-q");
            }
        }
    }

    private static void load(String proxyUrl, boolean stream, AtomicBoolean running, ConcurrentLinkedQueue<Sample> samples) {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
        String body;
        try {
            ObjectNode request = (ObjectNode) JSON.readTree(SmokeRequest.chatBody("simvl"));
            request.put("stream", stream);
            body = JSON.writeValueAsString(request);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        long start = System.nanoTime();
        int resent = 0;
        while (running.get()) {
            String failure;
            try {
                HttpResponse<String> answer = ChatLoad.sendOnce(http, proxyUrl, body);
                if (answer == null && resent < 3) {
                    resent++;
                    continue;
                }
                boolean whole = answer != null && (stream ? answer.body().contains("[DONE]") && !answer.body().contains("\"error\"")
                        : answer.body().contains("\"choices\""));
                failure = answer == null ? "closed before any byte, 4 times"
                        : answer.statusCode() != 200 ? "HTTP " + answer.statusCode() : whole ? null : "cut answer";
            } catch (Exception e) {
                failure = e.getClass().getSimpleName() + ": " + e.getMessage();
            }
            samples.add(new Sample(start, System.nanoTime(), failure, resent));
            start = System.nanoTime();
            resent = 0;
        }
    }

    /** Prints a case's line; its p99 in ms. */
    private static double report(String layout, String name, ConcurrentLinkedQueue<Sample> all, long from, long to, double steadyP99) {
        List<Sample> window = all.stream().filter(sample -> sample.end() >= from && sample.end() <= to).toList();
        List<Double> latencies = window.stream().filter(sample -> sample.failure() == null)
                .map(sample -> (sample.end() - sample.start()) / 1e6).sorted().toList();
        Map<String, Integer> causes = new TreeMap<>();
        window.stream().filter(sample -> sample.failure() != null).forEach(sample -> causes.merge(sample.failure(), 1, Integer::sum));
        List<Long> ends = window.stream().filter(sample -> sample.failure() == null).map(Sample::end).sorted().toList();
        long pause = 0;
        long last = from;
        for (long end : ends) {
            pause = Math.max(pause, end - last);
            last = end;
        }
        pause = Math.max(pause, to - last);
        double p50 = percentile(latencies, 0.50);
        double p99 = percentile(latencies, 0.99);
        System.out.printf("%-8s %-22s %8d %7d %7d %10.0f %8.1f %8.1f %12s  %s%n", layout, name, latencies.size(),
                window.size() - latencies.size(), window.stream().mapToInt(Sample::resent).sum(), pause / 1e6, p50, p99,
                Double.isNaN(steadyP99) ? "-" : String.format("%.2f", p99 / steadyP99), causes.isEmpty() ? "-" : causes);
        System.out.flush();
        return p99;
    }

    private static double percentile(List<Double> sorted, double q) {
        if (sorted.isEmpty()) {
            return Double.NaN;
        }
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(q * sorted.size()) - 1));
    }

    /** SIGKILL to the node's server (its supervisor, the leader of its group, stays and starts it again). */
    private static void killServer(SimDeployment deployment, String node) throws Exception {
        long leader = ProcessTable.pidFromFile(deployment.stateDir().resolve(deployment.name()).resolve("run").resolve(node + ".pid"));
        List<ProcessHandle> servers = ProcessHandle.of(leader).orElseThrow().descendants()
                .filter(process -> process.info().command().orElse("").endsWith("java")).toList();
        if (servers.isEmpty()) {
            throw new IllegalStateException("no server process under " + node + "'s supervisor " + leader);
        }
        servers.forEach(ProcessHandle::destroyForcibly);
    }

    /** Until status says every process is ready again (its exit code 0), after it said otherwise. */
    private static void awaitReady(SimDeployment deployment) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        boolean seenDown = false;
        while (System.nanoTime() < deadline) {
            int code = deployment.epdctl("status", "-o", "json").exitCode();
            seenDown |= code != 0;
            if (seenDown && code == 0) {
                return;
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("the crashed node was not ready again within 90 s");
    }

    private static void require(Cli.Result result, String what) {
        if (result.exitCode() != 0) {
            throw new IllegalStateException(what + " failed: " + result);
        }
    }
}
