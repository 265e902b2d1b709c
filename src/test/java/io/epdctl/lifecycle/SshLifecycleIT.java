package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.testing.ChatLoad;
import io.epdctl.testing.Cli;
import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SimDeployment;
import io.epdctl.testing.SimNode;
import io.epdctl.testing.SshServer;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lifecycle over SSH: real OpenSSH servers on loopback addresses stand for the hosts (all of 127/8 is
 * this machine), with their own host keys and a known_hosts file of the test's.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class SshLifecycleIT {
    @TempDir
    Path dir;

    @Test
    void upStatusLogsAndDownAcrossTwoSshHosts() throws Exception {
        try (SshServer h1 = SshServer.start("127.0.0.2"); SshServer h2 = SshServer.start("127.0.0.3")) {
            Path knownHosts = knownHosts(dir.resolve("known_hosts"), h1, h2);
            try (SimDeployment deployment = SimDeployment.builder(dir).host("h1", yaml(h1)).host("h2", yaml(h2))
                    .nodeOn("e0", "h1").nodeOn("d0", "h1").nodeOn("p0", "h2").write()) {
                Cli.Result up = deployment.up("--known-hosts", knownHosts.toString(), "--remote-dir", dir.resolve("remote").toString());

                assertThat(up.exitCode()).as(up.toString()).isZero();
                assertThat(up.err()).contains("e0: started on h1", "p0: started on h2", "d0: started on h1");
                HttpResponse<String> chat = LocalLifecycleIT.chat(deployment.proxyUrl(), "over ssh");
                assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
                assertThat(Files.readString(dir.resolve("remote").resolve(deployment.name()).resolve("p0.log")))
                        .contains("Application startup complete.");

                Cli.Result status = deployment.epdctl("status", "--known-hosts", knownHosts.toString());
                assertThat(status.exitCode()).as(status.toString()).isZero();
                assertThat(status.out()).containsPattern("(?m)^p0\\s+prefill\\s+h2\\s+.*ready");

                Cli.Result logs = deployment.epdctl("logs", "p0", "--known-hosts", knownHosts.toString());
                assertThat(logs.exitCode()).as(logs.toString()).isZero();
                assertThat(logs.out()).contains("Application startup complete.");

                downLeavesNothing(deployment, knownHosts, h1, h2);
            }
        }
    }

    @Test
    void pullModeAcrossTwoSshHostsTheDecoderPullsFromThePrefillersHost() throws Exception {
        try (SshServer h1 = SshServer.start("127.0.0.2"); SshServer h2 = SshServer.start("127.0.0.3")) {
            Path knownHosts = knownHosts(dir.resolve("known_hosts"), h1, h2);
            try (SimDeployment deployment = SimDeployment.builder(dir).kvConnector("MooncakeConnectorV1")
                    .host("h1", yaml(h1)).host("h2", yaml(h2)).nodeOn("e0", "h1").nodeOn("d0", "h1").nodeOn("p0", "h2")
                    .write()) {
                Cli.Result up = deployment.up("--known-hosts", knownHosts.toString(), "--remote-dir", dir.resolve("remote").toString());

                assertThat(up.exitCode()).as(up.toString()).isZero();
                assertThat(up.err()).contains("p0: started on h2", "d0: started on h1",
                        "test request through the proxy (text and an image): answered");
                HttpResponse<String> image = LocalLifecycleIT.post(deployment.proxyUrl(), SmokeRequest.chatBody("simvl"));
                assertThat(image.statusCode()).as(image.body()).isEqualTo(200);
                String id = image.headers().firstValue("x-request-id").orElseThrow();
                Path remote = dir.resolve("remote").resolve(deployment.name());
                assertThat(Files.readString(remote.resolve("p0.log"))).contains("Delaying free of 1 blocks for request chatcmpl-" + id);
                assertThat(Files.readString(remote.resolve("d0.log"))).contains("Pulled KV of chatcmpl-" + id);

                downLeavesNothing(deployment, knownHosts, h1, h2);
            }
        }
    }

    @Test
    void aNodeOnAnSshHostHealsWhileItsSshServerIsDown() throws Exception {
        try (SshServer h1 = SshServer.start("127.0.0.2")) {
            Path knownHosts = knownHosts(dir.resolve("known_hosts"), h1);
            try (SimDeployment deployment = SimDeployment.builder(dir).host("h1", yaml(h1)).nodeOn("d0", "h1").write()) {
                assertThat(deployment.up("--known-hosts", knownHosts.toString(), "--remote-dir", dir.resolve("remote").toString())
                        .exitCode()).isZero();
                Path run = dir.resolve("remote").resolve(deployment.name());
                long group = ProcessTable.pidFromFile(run.resolve("d0.pid"));
                long server = ProcessHandle.of(group).orElseThrow().descendants()
                        .filter(process -> process.info().command().orElse("").contains("java")).findFirst().orElseThrow().pid();
                h1.pause(); // no SSH to h1, and no epdctl running: only d0's supervisor is there

                new ProcessBuilder("kill", "-KILL", String.valueOf(server)).start().waitFor();

                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (!Files.exists(run.resolve("d0.exits"))
                        || !new NodeProbe(Duration.ofSeconds(1)).readiness(h1.address(), deployment.port("d0"), "simvl",
                                Duration.ofSeconds(1)).ready()) {
                    assertThat(System.nanoTime()).as("d0 back on h1").isLessThan(deadline);
                    Thread.sleep(100);
                }
                assertThat(Files.readString(run.resolve("d0.exits"))).endsWith(" 137 restart\n");
                assertThat(ProcessTable.isLive(server)).isFalse();
                assertThat(ProcessTable.isLive(group)).as("the same supervisor").isTrue();
                h1.resume();

                Cli.Result status = deployment.epdctl("status", "--known-hosts", knownHosts.toString());
                assertThat(status.out()).as(status.toString()).containsPattern("(?m)^d0\\s+decode\\s+h1\\s+.*ready\\s+1\\s+SIGKILL");
                Cli.Result down = deployment.epdctl("down", "--known-hosts", knownHosts.toString());
                assertThat(down.exitCode()).as(down.toString()).isZero();
                assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
                assertThat(ProcessTable.isLive(group)).as("d0's supervisor").isFalse();
            }
        }
    }

    @Test
    void downKeepsWhatItCannotReachAndFinishesOnALaterTry() throws Exception {
        try (SshServer h1 = SshServer.start("127.0.0.2")) {
            Path knownHosts = knownHosts(dir.resolve("known_hosts"), h1);
            try (SimDeployment deployment = SimDeployment.builder(dir).host("h1", yaml(h1)).nodeOn("p0", "h1").write()) {
                assertThat(deployment.up("--known-hosts", knownHosts.toString(), "--remote-dir", dir.resolve("remote").toString())
                        .exitCode()).isZero();
                h1.replaceHostKey(); // h1 cannot be trusted any more: epdctl must not act there

                Cli.Result down = deployment.epdctl("down", "--known-hosts", knownHosts.toString());

                assertThat(down.exitCode()).as(down.toString()).isEqualTo(1);
                assertThat(down.err()).contains("p0: not stopped").contains("CHANGED").contains("p0 left");
                assertThat(down.err()).contains("e0: stopped by SIGTERM", "proxy: stopped by SIGTERM");
                assertThat(deployment.epdctl("status", "--known-hosts", knownHosts.toString()).out())
                        .doesNotContain("e0 ").containsPattern("(?m)^p0\\s+prefill\\s+h1\\s+.*unreachable host");
                assertThat(deployment.processes()).as("p0 still runs on h1").isNotEmpty();

                knownHosts(knownHosts, h1); // the operator checked the new key and recorded it
                Cli.Result again = deployment.epdctl("down", "--known-hosts", knownHosts.toString());

                assertThat(again.exitCode()).as(again.toString()).isZero();
                assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
            }
        }
    }

    @Test
    void anUnknownHostKeyIsRefusedAndNothingStarts() throws Exception {
        try (SshServer h1 = SshServer.start("127.0.0.2")) {
            Path emptyKnownHosts = Files.writeString(dir.resolve("known_hosts"), "");
            try (SimDeployment deployment = SimDeployment.builder(dir).host("h1", yaml(h1)).nodeOn("p0", "h1").write()) {
                Cli.Result up = deployment.up("--known-hosts", emptyKnownHosts.toString());

                assertThat(up.exitCode()).as(up.toString()).isEqualTo(1);
                assertThat(up.err()).contains(h1.hostKeyFingerprint()).contains("--accept-new-host-keys")
                        .contains("host h1 cannot be reached; nothing was started");
                assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();

                Cli.Result accepted = deployment.up("--known-hosts", emptyKnownHosts.toString(), "--accept-new-host-keys",
                        "--remote-dir", dir.resolve("remote").toString());
                assertThat(accepted.exitCode()).as(accepted.toString()).isZero();
                assertThat(Files.readString(emptyKnownHosts)).isNotBlank();
                assertThat(deployment.epdctl("down", "--known-hosts", emptyKnownHosts.toString()).exitCode()).isZero();
                assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
            }
        }
    }

    @Test
    void anUnreachableHostFailsUpBeforeAnythingStarts() throws Exception {
        int closedPort = SimNode.freePort();
        try (SimDeployment deployment = SimDeployment.builder(dir)
                .host("gone", "{address: 127.0.0.4, transport: ssh, user: root, ssh-port: " + closedPort + "}")
                .nodeOn("d0", "gone").write()) {
            Cli.Result up = deployment.up();

            assertThat(up.exitCode()).as(up.toString()).isEqualTo(1);
            assertThat(up.err()).contains("gone").contains("refused").contains("nothing was started");
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void aRollingRestartOnAnSshHostFailsNoRequestAndReconfiguresTheProxyThroughTheTunnel() throws Exception {
        try (SshServer h1 = SshServer.start("127.0.0.2")) {
            Path knownHosts = knownHosts(dir.resolve("known_hosts"), h1);
            String[] ssh = {"--known-hosts", knownHosts.toString(), "--remote-dir", dir.resolve("remote").toString()};
            try (SimDeployment deployment = SimDeployment.builder(dir).host("h1", yaml(h1)).shape(1, 1, 2)
                    .spreadOver(List.of("h1")).proxyOn("h1").write()) {
                Cli.Result up = deployment.up(ssh);
                assertThat(up.exitCode()).as(up.toString()).isZero();
                Map<String, Long> before = pids(deployment, knownHosts);
                assertThat(before.keySet()).containsExactly("e0", "p0", "d0", "d1", "proxy");
                String proxyUrl = "http://" + h1.address() + ":" + deployment.port("proxy");

                try (ChatLoad load = new ChatLoad(proxyUrl, "simvl", 3)) {
                    Cli.Result restart = deployment.epdctl(concat(new String[] {"restart", "--role", "decode"}, ssh));
                    assertThat(restart.exitCode()).as(restart.toString()).isZero();
                    assertThat(restart.err()).contains("restart d0 (decode on h1): restart asked",
                            "restart d1 (decode on h1): restart asked", "1. restart d0; 2. restart d1",
                            "roles briefly without a backend: none", "d0: drained and out of the proxy",
                            "d1: drained and out of the proxy");
                    int afterRestart = load.answered();

                    // Scale-in through the tunnel: d1 leaves the file, the proxy on h1 is reconfigured while it runs.
                    Files.writeString(deployment.file(), Files.readString(deployment.file()).lines()
                            .filter(line -> !line.contains("name: d1,")).reduce("", (a, b) -> a + b + "\n"));
                    Cli.Result in = deployment.up(ssh);
                    assertThat(in.exitCode()).as(in.toString()).isZero();
                    assertThat(in.err()).contains("stop d1 (decode on h1): no longer in the topology",
                            "reconfigure proxy (proxy on h1): - d1 (decode " + h1.address() + ":" + deployment.port("d1") + ")",
                            "proxy: reconfigured while it runs");
                    Thread.sleep(1000);
                    assertThat(load.answered()).as("the load went on after the restart").isGreaterThan(afterRestart);
                    load.close();
                    assertThat(load.failures()).as("failed requests").isEmpty();
                    assertThat(load.answered()).isGreaterThan(10);
                }
                Map<String, Long> after = pids(deployment, knownHosts);
                assertThat(after.keySet()).containsExactly("e0", "p0", "d0", "proxy");
                assertThat(after.get("proxy")).as("the proxy was reconfigured, never restarted").isEqualTo(before.get("proxy"));
                assertThat(List.of(after.get("e0"), after.get("p0"))).containsExactly(before.get("e0"), before.get("p0"));
                assertThat(after.get("d0")).isNotEqualTo(before.get("d0"));
                Cli.Result status = deployment.epdctl("status", "--known-hosts", knownHosts.toString());
                assertThat(status.exitCode()).as("everything ready: " + status).isZero();
                assertThat(deployment.epdctl(concat(new String[] {"plan", deployment.file().toString()}, ssh)).exitCode())
                        .as("nothing left to do").isZero();

                downLeavesNothing(deployment, knownHosts, h1);
            }
        }
    }

    /** Each process's pid, as {@code status --json} reports it, in its order. */
    private static Map<String, Long> pids(SimDeployment deployment, Path knownHosts) throws Exception {
        Map<String, Long> pids = new LinkedHashMap<>();
        for (JsonNode row : new ObjectMapper().readTree(deployment.epdctl("status", "--json", "--known-hosts", knownHosts.toString())
                .out()).path("processes")) {
            pids.put(row.path("name").asText(), row.path("pid").asLong());
        }
        return pids;
    }

    private static String[] concat(String[] first, String[] second) {
        return java.util.stream.Stream.concat(java.util.Arrays.stream(first), java.util.Arrays.stream(second)).toArray(String[]::new);
    }

    static String yaml(SshServer server) {
        return "{address: " + server.address() + ", transport: ssh, user: " + server.user() + ", ssh-port: " + server.port()
                + ", identity-file: " + server.ed25519Key() + "}";
    }

    /** A known_hosts file with the servers' current host keys. */
    /** {@code down} succeeds, nothing of the deployment runs, and no host keeps a session of epdctl's (its connections closed). */
    static void downLeavesNothing(SimDeployment deployment, Path knownHosts, SshServer... hosts) throws Exception {
        Cli.Result down = deployment.epdctl("down", "--known-hosts", knownHosts.toString());
        assertThat(down.exitCode()).as(down.toString()).isZero();
        assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        for (SshServer host : hosts) {
            host.awaitNoSessions(); // the SSH connections of epdctl just closed
            assertThat(ProcessTable.describe(host.sessionProcesses())).isEmpty();
        }
    }

    static Path knownHosts(Path file, SshServer... servers) throws Exception {
        StringBuilder lines = new StringBuilder();
        for (SshServer server : servers) {
            String[] key = Files.readString(server.dir().resolve("ssh_host_ed25519_key.pub")).trim().split(" ");
            lines.append(server.knownHostsName()).append(' ').append(key[0]).append(' ').append(key[1]).append('\n');
        }
        return Files.writeString(file, lines);
    }
}
