package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.render.DeploymentRenderer;
import io.epdctl.render.ScriptTemplates;
import io.epdctl.shell.Shell;
import io.epdctl.state.StateStore;
import io.epdctl.testing.Cli;
import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SimDeployment;
import io.epdctl.topology.Topology;
import io.epdctl.topology.TopologyLoader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole lifecycle on this machine, against real vllm-sim processes and epdctl's proxy, started by
 * epdctl itself; every test checks the process table, not only the state file.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class LocalLifecycleIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void upServesRequestsThroughEveryRoleThenStatusAndDownLeaveNothing() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            Cli.Result up = deployment.up();

            assertThat(up.exitCode()).as(up.toString()).isZero();
            assertThat(up.out().strip()).isEqualTo(deployment.proxyUrl());
            assertThat(up.err()).contains("e0: ready", "p0: ready", "d0: ready", "proxy: ready",
                    "test request through the proxy (text and an image): answered");
            assertThat(up.err()).as("its ports are below the ephemeral range").doesNotContain("warning:");

            HttpResponse<String> chat = chat(deployment.proxyUrl(), "describe the picture");
            assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
            assertThat(JSON.readTree(chat.body()).at("/choices/0/message/content").asText()).isNotBlank();

            Cli.Result status = deployment.epdctl("status");
            assertThat(status.exitCode()).as(status.toString()).isZero();
            assertThat(status.out()).containsPattern("(?m)^e0\\s+encoder\\s+local\\s+0\\s+\\d+\\s+\\d+\\s+ready")
                    .containsPattern("(?m)^d0\\s+decode\\s+local\\s+2\\s+\\d+\\s+\\d+\\s+ready")
                    .containsPattern("(?m)^proxy\\s+proxy\\s+local\\s+-\\s+\\d+\\s+\\d+\\s+ready");

            JsonNode rows = JSON.readTree(deployment.epdctl("status", "--json").out()).path("processes");
            assertThat(rows).hasSize(4);
            rows.forEach(row -> assertThat(row.path("state").asText()).as(row.toString()).isEqualTo("ready"));
            assertThat(rows.get(0).path("kvCacheUsage").isNumber()).as(rows.toString()).isTrue();

            Cli.Result check = deployment.epdctl("check", deployment.file().toString());
            assertThat(check.exitCode()).as("its own ports are not taken for checking its own file: " + check).isZero();
            assertThat(check.out()).containsPattern("(?m)^ok\\s+local\\s+ports\\s+ports \\[.*\\] are free or held by deployment "
                    + deployment.name() + " itself \\(\\[.*" + deployment.port("d0") + ".*\\]\\)$");

            Cli.Result logs = deployment.epdctl("logs", "e0", "-n", "200");
            assertThat(logs.exitCode()).as(logs.toString()).isZero();
            assertThat(logs.out()).contains("Application startup complete.");

            assertThat(deployment.processes()).as("simulators, engine children and proxy").hasSizeGreaterThanOrEqualTo(7);

            Cli.Result down = deployment.epdctl("down");
            assertThat(down.exitCode()).as(down.toString()).isZero();
            assertThat(down.err()).contains("proxy: stopped by SIGTERM", "e0: stopped by SIGTERM", "is down");
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
            assertThat(new StateStore(deployment.stateDir()).deployments()).isEmpty();

            Cli.Result again = deployment.epdctl("down", deployment.name());
            assertThat(again.exitCode()).as(again.toString()).isZero();
            assertThat(again.err()).contains("nothing to stop");
        }
    }

    @Test
    void upWarnsBeforeStartingAboutAPortInsideTheEphemeralRange() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            int ephemeral = CheckCommandTest.ephemeralPort();
            CheckCommandTest.withPort(deployment, "e0", ephemeral);

            Cli.Result up = deployment.up();

            assertThat(up.exitCode()).as(up.toString()).isZero();
            assertThat(up.err()).containsPattern("epdctl: warning: local: ports " + ephemeral
                    + " are inside the ephemeral port range \\d+-\\d+ .*" + CheckCommandTest.reserveLine(ephemeral));
            assertThat(up.err().indexOf("warning: local: ports")).as(up.err()).isLessThan(up.err().indexOf("e0: started"));
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void upAgainDoesNothingWhenUnchangedAndRestartsOnlyAChangedNode() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            assertThat(deployment.up().exitCode()).isZero();
            List<Long> before = deployment.processes();

            Cli.Result unchanged = deployment.up();
            assertThat(unchanged.exitCode()).as(unchanged.toString()).isZero();
            assertThat(unchanged.err()).contains("is up and unchanged; nothing to do");
            assertThat(deployment.processes()).containsExactlyInAnyOrderElementsOf(before);

            long e0 = pid(deployment, "e0");
            long d0 = pid(deployment, "d0");
            String changed = Files.readString(deployment.file()).replace("role: decode,", "role: decode, args: {max-num-seqs: 64},");
            Files.writeString(deployment.file(), changed);

            Cli.Result restart = deployment.up();
            assertThat(restart.exitCode()).as(restart.toString()).isZero();
            assertThat(restart.err()).contains("stopping d0").doesNotContain("e0: started")
                    .containsPattern("restart d0 \\(decode on local\\): --max-num-seqs (added \\(64\\)|\\d+ -> 64)\n")
                    .contains("keep e0 (encoder on local): unchanged, ready\n", "roles briefly without a backend: decode\n");
            assertThat(pid(deployment, "e0")).isEqualTo(e0);
            assertThat(pid(deployment, "d0")).isNotEqualTo(d0);
            assertThat(ProcessTable.isLive(d0)).as("the old d0").isFalse();
            List<String> order = new java.util.ArrayList<>();
            JSON.readTree(deployment.epdctl("status", "--json").out()).path("processes")
                    .forEach(row -> order.add(row.path("name").asText()));
            assertThat(order).as("file order, the proxy last, also after a restart").containsExactly("e0", "p0", "d0", "proxy");
        }
    }

    @Test
    void aNodeCrashingDuringStartupFailsUpAtOnceWithItsLogAndLeavesNothing() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).startupDelayMs(1000)
                .nodeEnv("p0", "VLLM_SIM_CRASH_ON_STARTUP", "1").write()) {
            // A timeout far longer than the test's own: only failing fast lets the test pass.
            Cli.Result up = deployment.epdctl("up", deployment.file().toString(), "--timeout", "30m");

            assertThat(up.exitCode()).as(up.toString()).isEqualTo(1);
            // Whichever epdctl sees first: the fatal line in the log, or the process gone.
            assertThat(up.err()).containsPattern("up failed: p0 \\(prefill on local\\) (exited with status 1|running, but its log shows)")
                    .contains("Last lines of local:").contains("  | ")
                    .contains("stopping what this run started");
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
            assertThat(new StateStore(deployment.stateDir()).deployments()).isEmpty();
        }
    }

    @Test
    void downEscalatesToSigkillForANodeThatIgnoresSigterm() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).nodeEnv("e0", "VLLM_SIM_IGNORE_SIGTERM", "1").write()) {
            assertThat(deployment.up().exitCode()).isZero();

            assertThat(post(deployment.proxyUrl(), SmokeRequest.chatBody("simvl")).statusCode()).isEqualTo(200);
            assertThat(Files.list(dir.resolve("ec"))).isNotEmpty();

            Cli.Result down = deployment.epdctl("down", "--grace", "1s", "--purge-ec-cache");

            assertThat(down.exitCode()).as(down.toString()).isZero();
            assertThat(down.err()).contains("e0: killed with SIGKILL after the 1 s grace period")
                    .contains("p0: stopped by SIGTERM");
            assertThat(dir.resolve("ec")).doesNotExist();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void aSecondUpWhileTheFirstRunsIsRefusedWithTheFirstOnesPid() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).startupDelayMs(60_000).write()) {
            Process first = startUp(deployment);
            try {
                awaitLine(first, "started on local");

                Cli.Result second = deployment.up();

                assertThat(second.exitCode()).as(second.toString()).isEqualTo(1);
                assertThat(second.err()).contains("deployment " + deployment.name() + " is being changed by another epdctl")
                        .contains("(pid " + first.pid() + ")");
            } finally {
                first.destroyForcibly().waitFor();
            }
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void anInterruptedUpIsCleanedByALaterDown() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).startupDelayMs(60_000).write()) {
            Process up = startUp(deployment);
            try {
                // Once up has started all three nodes, kill epdctl itself, as a lost terminal would.
                awaitLine(up, "e0: started", "p0: started", "d0: started");
                up.destroyForcibly().waitFor();
                assertThat(deployment.processes()).hasSizeGreaterThanOrEqualTo(3);

                Cli.Result down = deployment.epdctl("down");

                assertThat(down.exitCode()).as(down.toString()).isZero();
                assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
            } finally {
                up.destroyForcibly();
            }
        }
    }

    @Test
    void logsFollowsANodesLogUntilInterrupted() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            assertThat(deployment.up().exitCode()).isZero();
            Process logs = new ProcessBuilder("bin/epdctl", "logs", "d0", "-f", "-n", "500",
                    "--state-dir", deployment.stateDir().toString()).redirectErrorStream(true).start();
            try {
                awaitLine(logs, "Application startup complete.");
                assertThat(chat(deployment.proxyUrl(), "follow me").statusCode()).isEqualTo(200);
                awaitLine(logs, "Received KV of");
                assertThat(logs.isAlive()).isTrue();
            } finally {
                logs.destroy();
                assertThat(logs.waitFor(10, TimeUnit.SECONDS)).isTrue();
            }
        }
    }

    private Process startUp(SimDeployment deployment) throws Exception {
        return new ProcessBuilder("bin/epdctl", "up", deployment.file().toString(), "--state-dir", deployment.stateDir().toString())
                .redirectErrorStream(true).start();
    }

    /** Reads the process's output until every one of {@code texts} has appeared (fails if it exits first). */
    private static void awaitLine(Process process, String... texts) throws Exception {
        java.io.BufferedReader output = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream()));
        java.util.Set<String> missing = new java.util.HashSet<>(List.of(texts));
        StringBuilder seen = new StringBuilder();
        String line;
        while (!missing.isEmpty() && (line = output.readLine()) != null) {
            seen.append(line).append('\n');
            String current = line;
            missing.removeIf(current::contains);
        }
        assertThat(missing).as("output so far:\n" + seen).isEmpty();
    }

    @Test
    void dryRunPrintsTheScriptsAndStartsNothing() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            Cli.Result dry = deployment.up("--dry-run", "--scripts");

            assertThat(dry.exitCode()).as(dry.toString()).isZero();
            assertThat(dry.out()).contains("nothing was changed", "start e0 (encoder on local): new\n",
                    "# ==> e0 (encoder) on host local", "exec ");
            // What it shows for each process is the very command up runs to start it.
            Topology topology = TopologyLoader.load(deployment.file()).topologyOrNull();
            LaunchPlan plan = LaunchPlan.of(new DeploymentRenderer(topology).render(), ScriptTemplates.builtIn(),
                    new RunDirectories(topology.name(), deployment.stateDir(), RunDirectories.DEFAULT_REMOTE_ROOT, topology.hosts()));
            String startProgram = HostCommands.startProgram(null, plan.all());
            for (LaunchPlan.Launch launch : plan.all()) {
                String started = HostCommands.launch(launch.record());
                assertThat(started).contains("setsid", "cd -- " + Shell.quote(launch.record().directory()));
                assertThat(dry.out()).contains("# started as: " + started + "\n");
                assertThat(startProgram).contains("\n" + started + "\n");
            }
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
            assertThat(new StateStore(deployment.stateDir()).deployments()).isEmpty();
        }
    }

    @Test
    void upStartsNothingWhenNoInterfaceCarriesANodesHostAddress() throws Exception {
        // 192.0.2.254 (TEST-NET-1) is on no interface here: the script of d0 would stop at its start.
        try (SimDeployment deployment = SimDeployment.builder(dir).host("elsewhere", "{address: 192.0.2.254, transport: local}")
                .nodeOn("d0", "elsewhere").write()) {
            Cli.Result up = deployment.up();

            assertThat(up.exitCode()).as(up.toString()).isEqualTo(1);
            assertThat(up.err()).contains("d0 on elsewhere: no network interface of this host carries 192.0.2.254")
                    .contains("nothing was started");
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void statusOfAStoppedNodeSaysExitedAndFails() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            assertThat(deployment.up().exitCode()).isZero();
            long d0 = pid(deployment, "d0");
            // Kill the whole group, as the OOM killer or an operator would.
            new ProcessBuilder("kill", "-KILL", "--", "-" + d0).start().waitFor();

            Cli.Result status = deployment.epdctl("status");

            assertThat(status.exitCode()).isEqualTo(1);
            assertThat(status.out()).containsPattern("(?m)^d0 .* exited .*gone");
            assertThat(status.out()).containsPattern("(?m)^e0 .* ready");
        }
    }

    @Test
    void aChangeThatCannotStartLeavesTheDeploymentServingAndUnchanged() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            assertThat(deployment.up().exitCode()).isZero();
            List<Long> before = deployment.processes();
            String state = Files.readString(deployment.stateDir().resolve(deployment.name()).resolve("state.json"));
            Path nowhere = dir.resolve("no-such-dir/vllm");
            String original = Files.readString(deployment.file());
            String broken = original.replaceFirst("(?m)^(\\s*command: ).*vllm-sim.*$", "$1" + nowhere)
                    .replace("role: decode,", "role: decode, args: {max-num-seqs: 64},");
            assertThat(broken).as("the file names the simulator as vllm.command").isNotEqualTo(original).contains(nowhere.toString());
            Files.writeString(deployment.file(), broken);

            Cli.Result up = deployment.up();

            assertThat(up.exitCode()).as(up.toString()).isEqualTo(1);
            assertThat(up.err()).contains("e0 on local: " + nowhere + " is not found (after the setup lines)",
                    "nothing was started or stopped: the running deployment is as it was");
            assertThat(up.err()).doesNotContain("stopping");
            assertThat(deployment.processes()).as("the same processes").containsExactlyInAnyOrderElementsOf(before);
            assertThat(Files.readString(deployment.stateDir().resolve(deployment.name()).resolve("state.json")))
                    .as("the state is as it was").isEqualTo(state);
            HttpResponse<String> answer = post(deployment.proxyUrl(), SmokeRequest.chatBody("simvl"));
            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void anInterruptedUpRunAgainKeepsTheNodesStillLoading() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).startupDelayMs(15_000).write()) {
            Process first = startUp(deployment);
            List<Long> loading;
            try {
                awaitLine(first, "e0: started", "p0: started", "d0: started", "proxy: started");
                first.destroyForcibly().waitFor();
                // Killed perhaps before it recorded the pids: the pid files the wrappers wrote tell them.
                loading = List.of(pidFile(deployment, "e0"), pidFile(deployment, "p0"), pidFile(deployment, "d0"));
            } finally {
                first.destroyForcibly();
            }

            Cli.Result plan = deployment.epdctl("plan", deployment.file().toString());
            assertThat(plan.exitCode()).as(plan.toString()).isZero();
            assertThat(plan.out()).containsPattern("(?m)^wait e0 \\(encoder on local\\): unchanged, alive, loading for \\d+ s");

            Cli.Result again = deployment.up();

            assertThat(again.exitCode()).as(again.toString()).isZero();
            assertThat(again.err()).containsPattern("wait d0 \\(decode on local\\): unchanged, alive, loading")
                    .doesNotContain("stopping", "d0: started");
            assertThat(List.of(pid(deployment, "e0"), pid(deployment, "p0"), pid(deployment, "d0")))
                    .as("the same processes, never restarted").isEqualTo(loading);
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void planAfterANodeCrashedSaysRestartWithItsExitStatus() throws Exception {
        // e0 answers up's test request, then crashes after the next one, as an engine dying at night would; with
        // restart: never it stays down (its supervisor would start it again otherwise: SelfHealingIT).
        try (SimDeployment deployment = SimDeployment.builder(dir).nodeEnv("e0", "VLLM_SIM_CRASH_AFTER_REQUESTS", "2")
                .nodeRestart("e0", "never").write()) {
            assertThat(deployment.up().exitCode()).isZero();
            Cli.Result unchanged = deployment.epdctl("plan", deployment.file().toString());
            assertThat(unchanged.exitCode()).as(unchanged.toString()).isZero();
            assertThat(unchanged.out()).contains("keep e0 (encoder on local): unchanged, ready\n", "proxy: kept\n");

            post(deployment.proxyUrl(), SmokeRequest.chatBody("simvl"));
            Cli.Result plan = null;
            for (int i = 0; i < 100; i++) {
                plan = deployment.epdctl("plan", deployment.file().toString());
                if (plan.out().contains("restart e0 (encoder on local): exited")) {
                    break;
                }
                Thread.sleep(100);
            }

            assertThat(plan.exitCode()).as(plan.toString()).isEqualTo(3);
            assertThat(plan.out()).contains("restart e0 (encoder on local): exited with status 1\n",
                    "keep p0 (prefill on local): unchanged, ready\n", "roles briefly without a backend: none\n");
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void downSucceedsWhenAnotherProcessNowListensOnAPortOfANodeThatIsGone() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            assertThat(deployment.up().exitCode()).isZero();
            long d0 = pid(deployment, "d0");
            new ProcessBuilder("kill", "-KILL", "--", "-" + d0).start().waitFor();
            int port = deployment.port("d0");
            java.net.ServerSocket other = null;
            for (int i = 0; i < 50 && other == null; i++) {
                try {
                    other = new java.net.ServerSocket(port, 1, java.net.InetAddress.getByName("127.0.0.1"));
                } catch (java.net.BindException e) {
                    Thread.sleep(100);
                }
            }
            assertThat(other).as("port " + port + " free once d0 is gone").isNotNull();
            try (java.net.ServerSocket listening = other) {
                Cli.Result down = deployment.epdctl("down");

                assertThat(down.exitCode()).as(down.toString()).isZero();
                assertThat(down.err()).contains("d0: was no longer running; port [" + port
                        + "] on local is held by another process, not one of ours", "is down");
                assertThat(listening.isClosed()).isFalse();
            }
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
            assertThat(new StateStore(deployment.stateDir()).deployments()).isEmpty();
        }
    }

    private static long pidFile(SimDeployment deployment, String node) throws Exception {
        return Long.parseLong(Files.readString(deployment.stateDir().resolve(deployment.name()).resolve("run")
                .resolve(node + ".pid")).strip());
    }

    private static long pid(SimDeployment deployment, String node) throws Exception {
        JsonNode rows = JSON.readTree(deployment.epdctl("status", "--json").out()).path("processes");
        for (JsonNode row : rows) {
            if (row.path("name").asText().equals(node)) {
                return row.path("pid").asLong();
            }
        }
        throw new AssertionError("no " + node + " in " + rows);
    }

    static HttpResponse<String> chat(String baseUrl, String text) throws Exception {
        return post(baseUrl, JSON.writeValueAsString(JSON.createObjectNode().put("model", "simvl").put("max_tokens", 8)
                .set("messages", JSON.createArrayNode().add(JSON.createObjectNode().put("role", "user").put("content", text)))));
    }

    static HttpResponse<String> post(String baseUrl, String body) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + "/v1/chat/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
    }
}
