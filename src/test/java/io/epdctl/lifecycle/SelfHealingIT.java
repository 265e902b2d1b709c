package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.testing.Cli;
import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SimDeployment;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The restart policy on real processes: vllm-sim nodes behind epdctl's proxy, started by epdctl, crashed by
 * killing a node's server process (the one its script runs; its engine child and its supervisor stay), as the OOM
 * killer or a segfault would. Between the commands epdctl is not running: what heals is the supervisor on the host.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class SelfHealingIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void aKilledServerOfAReadyNodeComesBackInItsGroupAndThroughTheProxyAndStatusSaysSo() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            assertThat(deployment.up().exitCode()).isZero();
            long group = row(deployment, "d0").path("pid").asLong();
            long server = server(group);
            List<Long> engine = members(group).stream().filter(pid -> pid != group && pid != server).toList();
            assertThat(engine).as("d0's engine child").isNotEmpty();
            Thread.sleep(3000); // so that its uptime since up started it and since it came back differ

            long killed = System.nanoTime();
            kill(server);

            JsonNode back = awaitRow(deployment, "d0", row -> row.path("state").asText().equals("ready")
                    && row.path("restarts").asInt() == 1);
            assertThat(back.path("pid").asLong()).as("the same group, led by the same supervisor").isEqualTo(group);
            assertThat(server(group)).as("a new server").isNotEqualTo(server);
            engine.forEach(pid -> assertThat(ProcessTable.isLive(pid)).as("the killed run's engine child " + pid).isFalse());
            assertThat(back.path("lastExit").path("reason").asText()).isEqualTo("killed by signal 9 (KILL)");
            assertThat(back.path("lastExit").path("status").asInt()).isEqualTo(137);
            assertThat(back.path("lastExit").path("signal").asText()).isEqualTo("KILL");
            assertThat(back.path("lastExit").path("outcome").asText()).isEqualTo("restart");
            assertThat(back.path("uptimeSeconds").isNumber()).as(back.toString()).isTrue();
            assertThat(back.path("uptimeSeconds").asLong()).as("up since it came back")
                    .isLessThanOrEqualTo(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - killed) + 1);

            // the node answers before the proxy has seen it do so (its next probe of a down backend, every 200 ms,
            // once a probe to the restarting server has ended): until then status says the proxy lacks a decoder
            Cli.Result status = awaitHealthyStatus(deployment);
            assertThat(status.out()).containsPattern("(?m)^NODE\\s+ROLE\\s+HOST\\s+NPUS\\s+PORT\\s+PID\\s+STATE\\s+RESTARTS\\s+LAST EXIT\\s+UPTIME")
                    .containsPattern("(?m)^d0\\s+decode\\s+.*\\s+ready\\s+1\\s+SIGKILL \\d+s ago\\s")
                    .containsPattern("(?m)^e0\\s+encoder\\s+.*\\s+ready\\s+0\\s+-\\s");

            // The built-in proxy took d0 out when it went away and takes it back once it answers its health checks.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            HttpResponse<String> chat = LocalLifecycleIT.post(deployment.proxyUrl(), SmokeRequest.chatBody("simvl"));
            while (chat.statusCode() != 200 && System.nanoTime() < deadline) {
                Thread.sleep(200);
                chat = LocalLifecycleIT.post(deployment.proxyUrl(), SmokeRequest.chatBody("simvl"));
            }
            assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);

            Cli.Result previous = deployment.epdctl("logs", "d0", "--previous", "-n", "500");
            assertThat(previous.exitCode()).as(previous.toString()).isZero();
            assertThat(previous.out()).contains("Application startup complete.").doesNotContain("epdctl supervisor:");
            Cli.Result current = deployment.epdctl("logs", "d0", "-n", "500");
            assertThat(current.out()).contains("epdctl supervisor: d0 exited with status 137; starting it again in 1 s (attempt 2")
                    .contains("Application startup complete.");

            // the bundle has the crashed run's log and the supervisor's record of the exit
            Path bundle = dir.resolve("bundle.tar.gz");
            Cli.Result collect = deployment.epdctl("collect", "-o", bundle.toString());
            assertThat(collect.exitCode()).as(collect.toString()).isZero();
            assertThat(fromBundle(bundle, "nodes/d0/previous-log-tail.txt")).contains("Application startup complete.")
                    .doesNotContain("epdctl supervisor:");
            assertThat(fromBundle(bundle, "nodes/d0/exits.txt")).containsPattern("(?m)^\\d+ 137 restart$");

            Cli.Result down = deployment.epdctl("down");
            assertThat(down.exitCode()).as(down.toString()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
            assertThat(ProcessTable.isLive(group)).as("d0's supervisor").isFalse();
        }
    }

    @Test
    void aKilledBuiltInProxyComesBackAndServes() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).combinedPrefillDecode().write()) {
            assertThat(deployment.up().exitCode()).isZero();
            long group = row(deployment, "proxy").path("pid").asLong();
            long server = server(group);

            kill(server);

            JsonNode back = awaitRow(deployment, "proxy", row -> row.path("state").asText().equals("ready")
                    && row.path("restarts").asInt() == 1);
            assertThat(back.path("pid").asLong()).isEqualTo(group);
            assertThat(server(group)).isNotEqualTo(server);
            HttpResponse<String> chat = LocalLifecycleIT.post(deployment.proxyUrl(), SmokeRequest.chatBody("simvl"));
            assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void aNodeThatExitsDuringItsFirstLoadFailsUpAtOnceAndIsNotRestarted() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).startupDelayMs(1000)
                .nodeEnv("p0", "VLLM_SIM_CRASH_ON_STARTUP", "1").write()) {
            Cli.Result up = deployment.epdctl("up", deployment.file().toString(), "--timeout", "30m", "--keep-on-failure");

            assertThat(up.exitCode()).as(up.toString()).isEqualTo(1);
            assertThat(up.err()).containsPattern("up failed: p0 \\(prefill on local\\) (exited with status 1|running, but its log shows)")
                    .contains("Last lines of local:");
            JsonNode p0 = awaitRow(deployment, "p0", row -> !row.path("lastExit").isNull());
            Thread.sleep(3000); // longer than the first backoff: a restart would have happened
            p0 = row(deployment, "p0");
            assertThat(p0.path("state").asText()).isEqualTo("exited");
            assertThat(p0.path("restarts").asInt()).isZero();
            assertThat(p0.path("lastExit").path("outcome").asText()).isEqualTo("never-ready");
            assertThat(Files.readString(runDirectory(deployment).resolve("p0.log"))).containsOnlyOnce("vLLM API server version");
            assertThat(runDirectory(deployment).resolve("p0.log.1")).as("no second run").doesNotExist();
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void aCrashLoopStopsTheRetriesAndIsReported() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).startupDelayMs(100).write()) {
            assertThat(deployment.up().exitCode()).isZero();
            long group = row(deployment, "e0").path("pid").asLong();

            // Each new server is killed as soon as it runs: 5 exits within a minute (backoffs 1, 2, 4, 8 s).
            long killed = 0;
            for (int exits = 0; exits < Supervisor.CRASH_LOOP_EXITS; exits++) {
                long server = awaitNewServer(group, killed);
                kill(server);
                killed = server;
            }

            JsonNode e0 = awaitRow(deployment, "e0", row -> row.path("state").asText().equals("crash loop"));
            assertThat(e0.path("restarts").asInt()).isEqualTo(Supervisor.CRASH_LOOP_EXITS - 1);
            assertThat(e0.path("reason").asText()).contains("5 exits within 10 min, a crash loop: not restarted again")
                    .contains("killed by signal 9 (KILL)");
            assertThat(e0.path("lastExit").path("outcome").asText()).isEqualTo("crash-loop");
            Cli.Result status = deployment.epdctl("status");
            assertThat(status.exitCode()).isEqualTo(1);
            assertThat(status.out()).containsPattern("(?m)^e0\\s+encoder\\s+.*\\s+crash loop\\s+4\\s+SIGKILL");
            Path run = runDirectory(deployment);
            for (int i = 1; i < Supervisor.CRASH_LOOP_EXITS; i++) {
                assertThat(run.resolve("e0.log." + i)).as("the log of each crashed run").exists();
            }
            assertThat(ProcessTable.awaitGone(group)).as("the supervisor gave up").isEmpty();
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void downRightAfterACrashAndDuringTheBackoffRestartsNothing() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            assertThat(deployment.up().exitCode()).isZero();
            long d0 = row(deployment, "d0").path("pid").asLong();
            long p0 = row(deployment, "p0").path("pid").asLong();
            Path run = runDirectory(deployment);
            // p0 is in its backoff when down comes (after a third crash: 4 s, far longer than down takes to reach it);
            // d0 has just crashed.
            long killed = 0;
            for (int crash = 0; crash < 3; crash++) {
                killed = awaitNewServer(p0, killed);
                kill(killed);
            }
            awaitFile(run.resolve("p0.restarting"), "4 ");
            JsonNode waiting = row(deployment, "p0");
            assertThat(waiting.path("state").asText()).as(waiting.toString()).isEqualTo("restarting");
            assertThat(waiting.path("reason").asText()).startsWith("attempt 4 starts in ").endsWith("; killed by signal 9 (KILL)");
            assertThat(waiting.path("restarts").asInt()).as("the start it waits for counts").isEqualTo(3);

            kill(server(d0));
            Cli.Result down = deployment.epdctl("down");

            assertThat(down.exitCode()).as(down.toString()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
            assertThat(ProcessTable.isLive(d0)).as("d0's supervisor").isFalse();
            assertThat(ProcessTable.isLive(p0)).as("p0's supervisor").isFalse();
            Thread.sleep(5000); // past both backoffs
            assertThat(deployment.processes()).as("nothing started again").isEmpty();
            assertThat(Files.readString(run.resolve("p0.log"))).contains("epdctl supervisor: p0 stopped")
                    .doesNotContain("vLLM API server version");
        }
    }

    @Test
    void restartNeverLeavesACrashedNodeDead() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).restart("never").write()) {
            assertThat(deployment.up().exitCode()).isZero();
            long group = row(deployment, "d0").path("pid").asLong();
            long server = server(group);

            kill(server);

            JsonNode d0 = awaitRow(deployment, "d0", row -> !row.path("lastExit").isNull());
            Thread.sleep(3000); // longer than the first backoff
            d0 = row(deployment, "d0");
            assertThat(d0.path("state").asText()).isEqualTo("exited");
            assertThat(d0.path("restarts").asInt()).isZero();
            assertThat(d0.path("lastExit").path("outcome").asText()).isEqualTo("not-restarted");
            assertThat(ProcessTable.isLive(group)).as("its supervisor ended").isFalse();
            assertThat(members(group).stream().filter(pid -> command(pid).contains("java")).toList()).as("no new server").isEmpty();
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void aNodeThatStopsAnsweringIsShownInThePlanWithHowLongItHasBeenUnhealthy() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            assertThat(deployment.up().exitCode()).isZero();
            long server = server(row(deployment, "d0").path("pid").asLong());
            // a hung engine: the process lives, its port still accepts connections, nothing answers
            signal(server, "STOP");
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                Cli.Result plan = deployment.epdctl("plan", deployment.file().toString());
                while (!plan.out().contains("unhealthy for") && System.nanoTime() < deadline) {
                    Thread.sleep(500);
                    plan = deployment.epdctl("plan", deployment.file().toString());
                }
                assertThat(plan.out()).as(plan.toString()).containsPattern("(?m)^wait d0 \\(decode on local\\): unchanged, alive, "
                        + "unhealthy for \\d+ s \\(.+\\); restarted once unhealthy for 30 s$");
                assertThat(plan.exitCode()).as("waiting is no change").isZero();
            } finally {
                signal(server, "CONT");
            }
            Cli.Result down = deployment.epdctl("down");
            assertThat(down.exitCode()).as(down.toString()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    /** One file of a collect bundle, as tar reads it. */
    private static String fromBundle(Path bundle, String path) throws Exception {
        Process tar = new ProcessBuilder("tar", "-xzOf", bundle.toString(), "--wildcards", "*/" + path).redirectErrorStream(true).start();
        String text = new String(tar.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(tar.waitFor()).as(text).isZero();
        return text;
    }

    private static void signal(long pid, String signal) throws Exception {
        assertThat(new ProcessBuilder("kill", "-" + signal, String.valueOf(pid)).start().waitFor()).isZero();
    }

    private static Path runDirectory(SimDeployment deployment) {
        return deployment.stateDir().resolve(deployment.name()).resolve("run");
    }

    private static void kill(long pid) throws Exception {
        signal(pid, "KILL");
    }

    /** The live processes of process group {@code group}. */
    private static List<Long> members(long group) {
        return ProcessHandle.allProcesses().map(ProcessHandle::pid).filter(pid -> {
            try {
                return ProcessTable.isLive(pid) && ProcessTable.stat(pid)[4].equals(String.valueOf(group));
            } catch (IOException e) {
                return false;
            }
        }).toList();
    }

    private static String command(long pid) {
        return ProcessHandle.of(pid).flatMap(handle -> handle.info().command()).orElse("");
    }

    /** The node's server: the vllm-sim JVM its script runs, in the group its supervisor leads. */
    private static long server(long group) {
        List<Long> servers = members(group).stream().filter(pid -> command(pid).contains("java")).toList();
        assertThat(servers).as("one server in group " + group).hasSize(1);
        return servers.get(0);
    }

    /** Waits (bounded) until the group has a server other than {@code old}. */
    private static long awaitNewServer(long group, long old) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            List<Long> servers = members(group).stream().filter(pid -> pid != old && command(pid).contains("java")).toList();
            if (!servers.isEmpty()) {
                return servers.get(0);
            }
            assertThat(System.nanoTime()).as("no new server in group " + group).isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    private static void awaitFile(Path file, String prefix) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!(Files.exists(file) && Files.readString(file).startsWith(prefix))) {
            assertThat(System.nanoTime()).as(file + " starting with '" + prefix + "'").isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    private static JsonNode row(SimDeployment deployment, String node) throws Exception {
        JsonNode rows = JSON.readTree(deployment.epdctl("status", "--json").out()).path("processes");
        for (JsonNode row : rows) {
            if (row.path("name").asText().equals(node)) {
                return row;
            }
        }
        throw new AssertionError("no " + node + " in " + rows);
    }

    /** {@code status} once it exits 0: every node ready, and the proxy with a healthy backend of every role. */
    private static Cli.Result awaitHealthyStatus(SimDeployment deployment) throws Exception {
        return await("status never exited 0", 30, () -> deployment.epdctl("status"), status -> status.exitCode() == 0);
    }

    private static JsonNode awaitRow(SimDeployment deployment, String node, Predicate<JsonNode> wanted) throws Exception {
        return await(node + " never got there", 90, () -> row(deployment, node), wanted);
    }

    /** What {@code probe} gives, probed every 200 ms until {@code wanted}; fails after {@code seconds}. */
    private static <T> T await(String failure, int seconds, Callable<T> probe, Predicate<T> wanted) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        T last = probe.call();
        while (!wanted.test(last)) {
            assertThat(System.nanoTime()).as(failure + "; last: " + last).isLessThan(deadline);
            Thread.sleep(200);
            last = probe.call();
        }
        return last;
    }
}
