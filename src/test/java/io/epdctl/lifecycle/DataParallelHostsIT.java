package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.Cli;
import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SimDeployment;
import io.epdctl.testing.SshServer;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node over two real sshd hosts (vLLM's internal data parallelism: d0 on h1 serves HTTP and leads, d0-dp1 on h2 runs
 * headless and joins it at its RPC port), on vllm-sim: it comes up, serves an image request through the built-in
 * proxy behind a real KV hand-off, heals as one group when its headless rank is killed while no epdctl runs, and goes
 * down leaving nothing.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class DataParallelHostsIT {
    @TempDir
    Path dir;

    @Test
    void aDecodeGroupOverTwoSshHostsServesHealsAsOneAndGoesDown() throws Exception {
        try (SshServer h1 = SshServer.start("127.0.0.2"); SshServer h2 = SshServer.start("127.0.0.3")) {
            Path knownHosts = SshLifecycleIT.knownHosts(dir.resolve("known_hosts"), h1, h2);
            try (SimDeployment deployment = SimDeployment.builder(dir).host("h1", SshLifecycleIT.yaml(h1))
                    .host("h2", SshLifecycleIT.yaml(h2)).nodeOn("e0", "h1").nodeOn("p0", "h2")
                    .nodeOverHosts("d0", List.of("h1", "h2")).write()) {
                Cli.Result up = deployment.up("--known-hosts", knownHosts.toString(), "--remote-dir", dir.resolve("remote").toString());

                assertThat(up.exitCode()).as(up.toString()).isZero();
                assertThat(up.err()).contains("d0: started on h1", "d0-dp1: started on h2");
                Path run = dir.resolve("remote").resolve(deployment.name());
                assertThat(Files.readString(run.resolve("d0-dp1.sh"))).contains("--headless", "--data-parallel-start-rank '1'",
                        "--data-parallel-address '127.0.0.2'", "--data-parallel-rpc-port '" + deployment.port("d0.rpc") + "'")
                        .doesNotContain("--port");
                assertThat(Files.readString(run.resolve("d0.log"))).contains("Data parallel ranks 1-1 joined from");
                assertThat(Files.readString(run.resolve("d0-dp1.log"))).contains("Data parallel ranks 1-1 joined the head node");
                HttpResponse<String> chat = LocalLifecycleIT.chat(deployment.proxyUrl(), "over two hosts");
                assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
                Cli.Result plan0 = deployment.epdctl("plan", deployment.file().toString(), "--known-hosts", knownHosts.toString(), "--remote-dir", dir.resolve("remote").toString());
                assertThat(plan0.exitCode()).as("nothing to do; " + plan0).isZero();

                Cli.Result status = deployment.epdctl("status", "--known-hosts", knownHosts.toString());
                assertThat(status.exitCode()).as(status.toString()).isZero();
                assertThat(status.out()).containsPattern("(?m)^d0\\s+decode\\s+h1\\s+.*ready")
                        .containsPattern("(?m)^d0-dp1\\s+decode\\s+h2\\s+121\\s+-\\s+\\d+\\s+ready");
                Cli.Result describe = deployment.epdctl("describe", "d0", "--known-hosts", knownHosts.toString());
                assertThat(describe.exitCode()).as(describe.toString()).isZero();
                assertThat(describe.out()).as("the leader's ports, each named for what listens")
                        .contains(deployment.port("d0") + " (HTTP)", deployment.port("d0.rpc") + " (DP RPC)", " (KV)")
                        .doesNotContain(deployment.port("d0.rpc") + " (KV)");

                // The headless rank dies while no epdctl runs: its leader fails with it, and both supervisors start them again.
                long leaderGroup = ProcessTable.pidFromFile(run.resolve("d0.pid"));
                long rankGroup = ProcessTable.pidFromFile(run.resolve("d0-dp1.pid"));
                long rank = java(rankGroup);
                long leader = java(leaderGroup);
                new ProcessBuilder("kill", "-KILL", String.valueOf(rank)).start().waitFor();

                NodeProbe probe = new NodeProbe(Duration.ofSeconds(1));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
                while (!Files.exists(run.resolve("d0.exits")) || !Files.exists(run.resolve("d0-dp1.exits"))
                        || !probe.readiness(h1.address(), deployment.port("d0"), "simvl", Duration.ofSeconds(1)).ready()) {
                    assertThat(System.nanoTime()).as("the group d0 back").isLessThan(deadline);
                    Thread.sleep(200);
                }
                assertThat(Files.readString(run.resolve("d0-dp1.exits"))).endsWith(" 137 restart\n");
                assertThat(Files.readString(run.resolve("d0.exits"))).as("the leader failed with its rank").endsWith(" 1 restart\n");
                assertThat(ProcessTable.isLive(rank)).isFalse();
                assertThat(ProcessTable.isLive(leader)).as("the leader's old server").isFalse();
                assertThat(ProcessTable.isLive(leaderGroup)).as("d0's supervisor").isTrue();
                assertThat(ProcessTable.isLive(rankGroup)).as("d0-dp1's supervisor").isTrue();
                assertThat(Files.readString(run.resolve("d0.log"))).as("the new leader waited for its rank")
                        .contains("Data parallel ranks 1-1 joined from");
                assertThat(Files.readString(run.resolve("d0.log.1"))).contains("data parallel group broken");
                HttpResponse<String> again = awaitChat(deployment, Duration.ofSeconds(30));
                assertThat(again.statusCode()).as(again.body()).isEqualTo(200);
                Cli.Result plan = deployment.epdctl("plan", deployment.file().toString(), "--known-hosts", knownHosts.toString(), "--remote-dir", dir.resolve("remote").toString());
                assertThat(plan.exitCode()).as("healed: nothing to do; " + plan).isZero();

                // epdctl restart of one rank restarts its group, in one step behind the proxy.
                Cli.Result restart = deployment.epdctl("restart", "d0-dp1", "--known-hosts", knownHosts.toString(), "--remote-dir", dir.resolve("remote").toString());
                assertThat(restart.exitCode()).as(restart.toString()).isZero();
                assertThat(restart.err()).contains("restart d0, restart d0-dp1");
                assertThat(ProcessTable.isLive(leaderGroup)).as("d0's old supervisor").isFalse();
                assertThat(ProcessTable.isLive(rankGroup)).as("d0-dp1's old supervisor").isFalse();
                leaderGroup = ProcessTable.pidFromFile(run.resolve("d0.pid"));
                rankGroup = ProcessTable.pidFromFile(run.resolve("d0-dp1.pid"));
                HttpResponse<String> restarted = awaitChat(deployment, Duration.ofSeconds(30));
                assertThat(restarted.statusCode()).as(restarted.body()).isEqualTo(200);

                SshLifecycleIT.downLeavesNothing(deployment, knownHosts, h1, h2);
                assertThat(ProcessTable.isLive(leaderGroup)).isFalse();
                assertThat(ProcessTable.isLive(rankGroup)).isFalse();
            }
        }
    }

    @Test
    void anExternalDataParallelPdOverTwoSshHostsServesEveryRankAndHealsAsOne() throws Exception {
        try (SshServer h1 = SshServer.start("127.0.0.2"); SshServer h2 = SshServer.start("127.0.0.3")) {
            Path knownHosts = SshLifecycleIT.knownHosts(dir.resolve("known_hosts"), h1, h2);
            try (SimDeployment deployment = SimDeployment.builder(dir).combinedPrefillDecode().host("h1", SshLifecycleIT.yaml(h1))
                    .host("h2", SshLifecycleIT.yaml(h2)).nodeOn("e0", "h1").nodeExternalOverHosts("pd0", List.of("h1", "h2")).write()) {
                Cli.Result up = deployment.up("--known-hosts", knownHosts.toString(), "--remote-dir", dir.resolve("remote").toString());

                assertThat(up.exitCode()).as(up.toString()).isZero();
                assertThat(up.err()).contains("pd0: started on h1", "pd0-dp1: started on h2");
                Path run = dir.resolve("remote").resolve(deployment.name());
                int rank1 = deployment.port("pd0") + 1;
                assertThat(Files.readString(run.resolve("pd0-dp1.sh"))).contains("--port '" + rank1 + "'",
                        "--data-parallel-rank '1'", "--data-parallel-address '127.0.0.2'").doesNotContain("--headless");
                Cli.Result proxy = deployment.epdctl("describe", "proxy", "-o", "json", "--known-hosts", knownHosts.toString());
                assertThat(proxy.out().replaceAll("\\s", "")).as("each rank a backend: " + proxy)
                        .contains("\"--pd-hosts\",\"127.0.0.2\",\"127.0.0.3\",\"--pd-ports\",\"" + deployment.port("pd0") + "\",\"" + rank1 + "\"");
                NodeProbe probe = new NodeProbe(Duration.ofSeconds(1));
                assertThat(probe.readiness(h2.address(), rank1, "simvl", Duration.ofSeconds(1)).ready()).as("rank 1 serves").isTrue();
                for (int i = 0; i < 4; i++) {
                    HttpResponse<String> chat = LocalLifecycleIT.chat(deployment.proxyUrl(), "rank request " + i);
                    assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
                }
                Cli.Result status = deployment.epdctl("status", "--known-hosts", knownHosts.toString());
                assertThat(status.exitCode()).as(status.toString()).isZero();
                assertThat(status.out()).containsPattern("(?m)^pd0-dp1\\s+pd\\s+h2\\s+\\S+\\s+" + rank1 + "\\s+\\d+\\s+ready");

                // Rank 1 dies with no epdctl running: rank 0 fails with it, both come back and rank 1 joins again.
                long rankGroup = ProcessTable.pidFromFile(run.resolve("pd0-dp1.pid"));
                new ProcessBuilder("kill", "-KILL", String.valueOf(java(rankGroup))).start().waitFor();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
                while (!Files.exists(run.resolve("pd0.exits"))
                        || !probe.readiness(h1.address(), deployment.port("pd0"), "simvl", Duration.ofSeconds(1)).ready()
                        || !probe.readiness(h2.address(), rank1, "simvl", Duration.ofSeconds(1)).ready()) {
                    assertThat(System.nanoTime()).as("the group pd0 back").isLessThan(deadline);
                    Thread.sleep(200);
                }
                assertThat(Files.readString(run.resolve("pd0.exits"))).endsWith(" 1 restart\n");
                assertThat(Files.readString(run.resolve("pd0-dp1.exits"))).contains(" 137 restart\n");
                HttpResponse<String> again = awaitChat(deployment, Duration.ofSeconds(30));
                assertThat(again.statusCode()).as(again.body()).isEqualTo(200);

                SshLifecycleIT.downLeavesNothing(deployment, knownHosts, h1, h2);
            }
        }
    }

    /** The simulator's JVM in the process group led by {@code group}'s supervisor. */
    private static long java(long group) {
        return ProcessHandle.of(group).orElseThrow().descendants()
                .filter(process -> process.info().command().orElse("").contains("java")).findFirst().orElseThrow().pid();
    }

    /** A request through the proxy, tried again until its health probes found the healed group (at most {@code within}). */
    private static HttpResponse<String> awaitChat(SimDeployment deployment, Duration within) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            HttpResponse<String> chat = LocalLifecycleIT.chat(deployment.proxyUrl(), "after the group healed");
            if (chat.statusCode() == 200 || System.nanoTime() > deadline) {
                return chat;
            }
            Thread.sleep(500);
        }
    }
}
