package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.testing.ChatLoad;
import io.epdctl.testing.Cli;
import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SimDeployment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rolling changes behind epdctl's proxy on real vllm-sim processes: a client load runs through each change and not
 * one of its requests may fail; the proxy is never restarted; nothing is left in the process table.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class RollingUpIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void aRollingRestartOfATwoNodeRoleAndScaleInAndOutFailNoRequest() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).shape(1, 1, 2).write()) {
            Cli.Result up = deployment.up();
            assertThat(up.exitCode()).as(up.toString()).isZero();
            long proxy = pid(deployment, "proxy");
            long e0 = pid(deployment, "e0");
            String original = Files.readString(deployment.file());

            try (ChatLoad load = new ChatLoad(deployment.proxyUrl(), "simvl", 3)) {
                // Both decoders change: one after the other, each drained before it stops.
                Files.writeString(deployment.file(), original.replace("role: decode,", "role: decode, args: {max-num-seqs: 64},"));
                long d0 = pid(deployment, "d0");
                long d1 = pid(deployment, "d1");
                Cli.Result roll = deployment.up();
                assertThat(roll.exitCode()).as(roll.toString()).isZero();
                assertThat(roll.err()).contains("rolling, at most 1 serving node of a role at a time",
                        "1. restart d0; 2. restart d1", "roles briefly without a backend: none", "proxy: kept",
                        "d0: drained and out of the proxy", "d1: drained and out of the proxy");
                assertThat(pid(deployment, "d0")).isNotEqualTo(d0);
                assertThat(pid(deployment, "d1")).isNotEqualTo(d1);
                int afterRoll = load.answered();

                // Scale-in: d1 leaves the file; the proxy is reconfigured, not restarted.
                String scaledIn = Files.readString(deployment.file()).lines().filter(line -> !line.contains("name: d1,"))
                        .reduce("", (a, b) -> a + b + "\n");
                Files.writeString(deployment.file(), scaledIn);
                Cli.Result in = deployment.up();
                assertThat(in.exitCode()).as(in.toString()).isZero();
                assertThat(in.err()).contains("stop d1 (decode on local): no longer in the topology",
                        "reconfigure proxy (proxy on local): - d1 (decode 127.0.0.1:" + deployment.port("d1") + ")",
                        "proxy: reconfigured while it runs");
                assertThat(proxyScript(deployment)).as("a restart by its supervisor starts it with the file's backends")
                        .doesNotContain(String.valueOf(deployment.port("d1")));

                // Scale-out: d1 comes back, started, awaited and added once ready.
                Files.writeString(deployment.file(), original.replace("role: decode,", "role: decode, args: {max-num-seqs: 64},"));
                Cli.Result out = deployment.up();
                assertThat(out.exitCode()).as(out.toString()).isZero();
                assertThat(out.err()).contains("start d1 (decode on local): added to the topology",
                        "reconfigure proxy (proxy on local): + d1 (decode 127.0.0.1:" + deployment.port("d1") + ")");
                assertThat(proxyScript(deployment)).contains(String.valueOf(deployment.port("d1")));
                Thread.sleep(1000);
                assertThat(load.answered()).as("the load went on after the roll").isGreaterThan(afterRoll);
                load.close();
                assertThat(load.failures()).as("failed requests").isEmpty();
                assertThat(load.answered()).isGreaterThan(20);
            }
            assertThat(pid(deployment, "proxy")).as("the proxy was never restarted").isEqualTo(proxy);
            assertThat(pid(deployment, "e0")).isEqualTo(e0);
            Cli.Result plan = deployment.epdctl("plan", deployment.file().toString());
            assertThat(plan.exitCode()).as(plan.toString()).isZero();
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void restartRollsTheNamedNodesUnderLoadAndRefusesBadNames() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).shape(1, 1, 2).write()) {
            Cli.Result up = deployment.up();
            assertThat(up.exitCode()).as(up.toString()).isZero();
            long proxy = pid(deployment, "proxy");
            long e0 = pid(deployment, "e0");
            long d0 = pid(deployment, "d0");
            long d1 = pid(deployment, "d1");

            Cli.Result none = deployment.epdctl("restart");
            assertThat(none.exitCode()).isEqualTo(2);
            assertThat(none.err()).contains("epdctl: name the nodes to restart (deployment " + deployment.name()
                    + " has e0, p0, d0, d1)");
            Cli.Result unknown = deployment.epdctl("restart", "d7");
            assertThat(unknown.exitCode()).isEqualTo(2);
            assertThat(unknown.err()).contains("epdctl: d7: no such node in deployment " + deployment.name()
                    + " (its nodes: e0, p0, d0, d1)");
            Cli.Result badRole = deployment.epdctl("restart", "--role", "decoder");
            assertThat(badRole.exitCode()).isEqualTo(2);
            assertThat(badRole.err()).contains("--role decoder: not a role; the roles are encoder, pd, prefill, decode");
            Cli.Result both = deployment.epdctl("restart", "--all", "d0");
            assertThat(both.exitCode()).isEqualTo(2);
            assertThat(both.err()).contains("name the nodes, --all or --role, not several");
            Cli.Result theProxy = deployment.epdctl("restart", "proxy");
            assertThat(theProxy.exitCode()).isEqualTo(2);
            Cli.Result zero = deployment.epdctl("restart", "d0", "--max-unavailable", "0");
            assertThat(zero.exitCode()).isEqualTo(2);
            assertThat(zero.err()).contains("--max-unavailable must be at least 1, not 0");
            assertThat(List.of(pid(deployment, "d0"), pid(deployment, "d1"))).as("nothing restarted so far").containsExactly(d0, d1);

            try (ChatLoad load = new ChatLoad(deployment.proxyUrl(), "simvl", 3)) {
                Cli.Result restart = deployment.epdctl("restart", "--role", "decode");
                assertThat(restart.exitCode()).as(restart.toString()).isZero();
                assertThat(restart.err()).contains("restart d0 (decode on local): restart asked",
                        "restart d1 (decode on local): restart asked", "1. restart d0; 2. restart d1",
                        "roles briefly without a backend: none", "d0: drained and out of the proxy");
                load.close();
                assertThat(load.failures()).as("failed requests").isEmpty();
                assertThat(load.answered()).isGreaterThan(5);
            }
            assertThat(pid(deployment, "d0")).isNotEqualTo(d0);
            assertThat(pid(deployment, "d1")).isNotEqualTo(d1);
            assertThat(List.of(pid(deployment, "e0"), pid(deployment, "proxy"))).containsExactly(e0, proxy);

            Files.writeString(deployment.file(), Files.readString(deployment.file())
                    .replace("role: encoder,", "role: encoder, args: {max-num-seqs: 64},"));
            Cli.Result changed = deployment.epdctl("restart", "e0");
            assertThat(changed.exitCode()).isEqualTo(1);
            assertThat(changed.err()).contains("e0: " + deployment.file() + " changed it since it started (--max-num-seqs",
                    "restarts it with the change", "nothing was restarted");
            assertThat(pid(deployment, "e0")).isEqualTo(e0);
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void anInterruptedRollingUpRunAgainKeepsTheRestartedNodeAndPutsItBackInTheProxy() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).shape(1, 1, 2).startupDelayMs(4000).write()) {
            Cli.Result up = deployment.up();
            assertThat(up.exitCode()).as(up.toString()).isZero();
            long proxy = pid(deployment, "proxy");
            Files.writeString(deployment.file(), Files.readString(deployment.file())
                    .replace("name: d0, role: decode,", "name: d0, role: decode, args: {max-num-seqs: 64},"));
            Process first = new ProcessBuilder("bin/epdctl", "up", deployment.file().toString(), "--state-dir",
                    deployment.stateDir().toString()).redirectErrorStream(true).start();
            try {
                awaitLine(first, "d0: started");
                first.destroyForcibly().waitFor();
            } finally {
                first.destroyForcibly();
            }
            long d0 = Long.parseLong(Files.readString(deployment.stateDir().resolve(deployment.name()).resolve("run")
                    .resolve("d0.pid")).strip());

            Cli.Result plan = deployment.epdctl("plan", deployment.file().toString());
            assertThat(plan.exitCode()).as(plan.toString()).isEqualTo(3);
            assertThat(plan.out()).containsPattern("(?m)^(wait|keep) d0 \\(decode on local\\): unchanged")
                    .contains("reconfigure proxy (proxy on local): + d0 (decode 127.0.0.1:" + deployment.port("d0") + ")");

            Cli.Result again = deployment.up();
            assertThat(again.exitCode()).as(again.toString()).isZero();
            assertThat(again.err()).doesNotContain("stopping", "d0: started");
            assertThat(pid(deployment, "d0")).as("the restarted d0, kept").isEqualTo(d0);
            assertThat(pid(deployment, "proxy")).isEqualTo(proxy);
            Cli.Result after = deployment.epdctl("plan", deployment.file().toString());
            assertThat(after.exitCode()).as("the proxy has d0 again: " + after).isZero();
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void aChangeOfTheProxysOwnFlagsHandsOverWithoutAFailedRequest() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).combinedPrefillDecode(1, 2).write()) {
            Cli.Result up = deployment.up();
            assertThat(up.exitCode()).as(up.toString()).isZero();
            long proxy = pid(deployment, "proxy");
            Files.writeString(deployment.file(), Files.readString(deployment.file())
                    .replaceFirst("(?m)^proxy: \\{", "proxy: {args: {max-retries: 4}, "));
            try (ChatLoad load = new ChatLoad(deployment.proxyUrl(), "simvl", 3)) {
                Cli.Result change = deployment.up();
                assertThat(change.exitCode()).as(change.toString()).isZero();
                assertThat(change.err()).contains("restart proxy (proxy on local): --max-retries added (4)",
                        "proxy: restarted with a hand-over", "proxy-next: listens on port " + deployment.port("proxy"),
                        "stopping proxy-next",
                        "on local is held by proxy-next, which took it over", "on local is held by proxy, which took it over")
                        .doesNotContain("not one of ours");
                Thread.sleep(500);
                load.close();
                assertThat(load.failures()).as("failed requests").isEmpty();
                assertThat(load.answered()).isGreaterThan(5);
            }
            assertThat(pid(deployment, "proxy")).isNotEqualTo(proxy);
            Cli.Result status = deployment.epdctl("status", "--json");
            assertThat(JSON.readTree(status.out()).path("processes").findValuesAsText("name")).as("the temporary proxy is gone")
                    .containsExactly("e0", "pd0", "pd1", "proxy");
            try (var files = Files.list(deployment.stateDir().resolve(deployment.name()).resolve("run"))) {
                assertThat(files.map(file -> file.getFileName().toString()).toList()).as("the run directory after the hand-over")
                        .contains("proxy.sh", "proxy.log").noneMatch(file -> file.startsWith("proxy-next"));
            }
            assertThat(deployment.epdctl("plan", deployment.file().toString()).exitCode()).isZero();
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void anInterruptedHandOverLeavesProxyNextRecordedAndTheNextUpStopsIt() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).combinedPrefillDecode(1, 2).write()) {
            Cli.Result up = deployment.up();
            assertThat(up.exitCode()).as(up.toString()).isZero();
            Files.writeString(deployment.file(), Files.readString(deployment.file())
                    .replaceFirst("(?m)^proxy: \\{", "proxy: {args: {max-retries: 4}, "));
            Process first = new ProcessBuilder("bin/epdctl", "up", deployment.file().toString(), "--state-dir",
                    deployment.stateDir().toString()).redirectErrorStream(true).start();
            try {
                awaitLine(first, "proxy-next: listens on port");
                first.destroyForcibly().waitFor();
            } finally {
                first.destroyForcibly();
            }
            Path run = deployment.stateDir().resolve(deployment.name()).resolve("run");
            long next = Long.parseLong(Files.readString(run.resolve("proxy-next.pid")).strip());
            assertThat(JSON.readTree(deployment.epdctl("status", "--json").out()).path("processes").findValuesAsText("name"))
                    .as("the interrupted hand-over's temporary proxy, recorded").contains("proxy-next");

            Cli.Result plan = deployment.epdctl("plan", deployment.file().toString());
            assertThat(plan.exitCode()).as(plan.toString()).isEqualTo(3);
            assertThat(plan.out()).containsPattern("(?m)^stop proxy-next \\(proxy on local\\): no longer in the topology");

            Cli.Result again = deployment.up();
            assertThat(again.exitCode()).as(again.toString()).isZero();
            if (plan.out().contains("proxy: restarted with a hand-over")) {
                // The old proxy still served when the first up was killed: the hand-over starts afresh, its own
                // proxy-next only once the interrupted one is stopped (never two recorded under one name).
                assertThat(again.err()).contains("proxy: proxy-next of an interrupted hand-over goes first",
                        "proxy-next: stopped already").containsSubsequence("proxy-next: stopped by SIGTERM",
                        "proxy: handing over to a proxy with the new flags", "proxy-next: started on local");
            } else {
                // The kill came after the old proxy's SIGTERM: proxy-next is stopped and the proxy started.
                assertThat(plan.out()).contains("proxy: restarted; its endpoint is briefly unavailable");
            }
            assertThat(ProcessTable.awaitGone(next)).as("the temporary proxy of the interrupted hand-over").isEmpty();
            Cli.Result status = deployment.epdctl("status", "--json");
            assertThat(status.exitCode()).as(status.toString()).isZero();
            assertThat(JSON.readTree(status.out()).path("processes").findValuesAsText("name"))
                    .containsExactly("e0", "pd0", "pd1", "proxy");
            java.net.http.HttpResponse<String> chat = LocalLifecycleIT.chat(deployment.proxyUrl(), "after the hand-over");
            assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
            assertThat(deployment.epdctl("plan", deployment.file().toString()).exitCode()).isZero();
            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    /** Reads the process's output until {@code text} has appeared (fails if it exits first). */
    private static void awaitLine(Process process, String text) throws Exception {
        java.io.BufferedReader output = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream()));
        StringBuilder seen = new StringBuilder();
        String line;
        while ((line = output.readLine()) != null) {
            seen.append(line).append('\n');
            if (line.contains(text)) {
                return;
            }
        }
        throw new AssertionError("no line with " + text + " in:\n" + seen);
    }

    private static String proxyScript(SimDeployment deployment) throws Exception {
        return Files.readString(deployment.stateDir().resolve(deployment.name()).resolve("run").resolve("proxy.sh"));
    }

    static long pid(SimDeployment deployment, String node) throws Exception {
        JsonNode rows = JSON.readTree(deployment.epdctl("status", "--json").out()).path("processes");
        for (JsonNode row : rows) {
            if (row.path("name").asText().equals(node)) {
                return row.path("pid").asLong();
            }
        }
        throw new AssertionError("no " + node + " in " + rows);
    }
}
