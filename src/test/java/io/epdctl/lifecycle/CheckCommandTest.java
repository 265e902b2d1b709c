package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.Cli;
import io.epdctl.testing.SimDeployment;
import io.epdctl.testing.SystemTest;
import io.epdctl.testing.SshServer;
import io.epdctl.topology.Topology;
import io.epdctl.topology.TopologyLoader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code epdctl check} on this machine: it passes on a good topology and names what is wrong otherwise. */
@SystemTest
class CheckCommandTest {
    @TempDir
    Path dir;

    @Test
    void passesWhenEverythingIsInPlaceAndStartsNothing() {
        SimDeployment deployment = SimDeployment.builder(dir).write();

        Cli.Result check = Cli.run("check", deployment.file().toString());

        assertThat(check.exitCode()).as(check.toString()).isZero();
        assertThat(check.out()).containsPattern("(?m)^ok\\s+local\\s+login")
                .containsPattern("(?m)^ok\\s+local\\s+command\\s+.*bin/vllm-sim")
                .containsPattern("(?m)^warning\\s+local\\s+model\\s+sim/model is not a path")
                .containsPattern("(?m)^ok\\s+local\\s+ec-directory")
                .containsPattern("(?m)^ok\\s+local\\s+ports")
                .containsPattern("(?m)^ok\\s+local\\s+port-range\\s+ports \\[.*\\] are outside the ephemeral range")
                .containsPattern("(?m)^(ok|warning)\\s+local\\s+hand-over\\s+.*net.ipv4.tcp_migrate_req")
                .containsPattern("(?m)^warning\\s+local\\s+npu-links\\s+hccn_tool is not installed")
                .containsPattern("(?m)^warning\\s+local\\s+npus\\s+npu-smi is not installed");
        assertThat(check.err()).contains("all checks passed");
        assertThat(Files.isDirectory(dir.resolve("ec"))).isTrue();
        assertThat(deployment.processes()).isEmpty();
    }

    @Test
    void namesATakenPortAndAMissingCommand() throws Exception {
        SimDeployment deployment = SimDeployment.builder(dir).write();
        Files.writeString(deployment.file(), Files.readString(deployment.file())
                .replaceFirst("command: \\S*bin/vllm-sim", "command: /nonexistent/vllm"));
        try (ServerSocket taken = new ServerSocket(deployment.port("e0"), 1, InetAddress.getLoopbackAddress())) {
            Cli.Result check = Cli.run("check", deployment.file().toString());

            assertThat(check.exitCode()).as(check.toString()).isEqualTo(1);
            assertThat(check.out()).containsPattern("(?m)^failed\\s+local\\s+command\\s+/nonexistent/vllm is not found")
                    .containsPattern("(?m)^failed\\s+local\\s+ports\\s+ports \\[" + deployment.port("e0") + "\\] are already in use");
            assertThat(check.err()).contains("2 checks failed");
        }
    }

    @Test
    void aPortInsideTheEphemeralRangeIsReportedWithTheSysctlLineThatReservesIt() throws Exception {
        SimDeployment deployment = SimDeployment.builder(dir).write();
        int ephemeral = ephemeralPort();
        withPort(deployment, "e0", ephemeral);

        Cli.Result check = Cli.run("check", deployment.file().toString());

        assertThat(check.exitCode()).as(check.toString()).isZero();
        assertThat(check.out()).containsPattern("(?m)^warning\\s+local\\s+port-range\\s+ports " + ephemeral
                + " are inside the ephemeral port range \\d+-\\d+ .*" + reserveLine(ephemeral));
        assertThat(deployment.processes()).isEmpty();
    }

    @Test
    void aPortInsideTheEphemeralRangeOfAnSshHostIsReadOnThatHost() throws Exception {
        try (SshServer h1 = SshServer.start("127.0.0.2")) {
            Path knownHosts = SshLifecycleIT.knownHosts(dir.resolve("known_hosts"), h1);
            SimDeployment deployment = SimDeployment.builder(dir).host("h1", SshLifecycleIT.yaml(h1))
                    .nodeOn("e0", "h1").nodeOn("p0", "h1").nodeOn("d0", "h1").proxyOn("h1").write();
            int ephemeral = ephemeralPort();
            withPort(deployment, "p0", ephemeral);

            Cli.Result check = Cli.run("check", deployment.file().toString(), "--known-hosts", knownHosts.toString());

            assertThat(check.exitCode()).as(check.toString()).isZero();
            assertThat(check.out()).containsPattern("(?m)^ok\\s+h1\\s+login")
                    .containsPattern("(?m)^warning\\s+h1\\s+port-range\\s+ports " + ephemeral
                            + " are inside the ephemeral port range \\d+-\\d+ .*" + reserveLine(ephemeral))
                    .containsPattern("(?m)^warning\\s+h1\\s+npu-links\\s+hccn_tool is not installed")
                    .doesNotContainPattern("(?m)^\\S+\\s+local\\s+port-range");
        }
    }

    @Test
    void theInterfaceCarryingANonLoopbackHostAddressIsFoundOrItsAbsenceFails() throws Exception {
        java.net.InetAddress address = null;
        for (java.net.NetworkInterface network : java.util.Collections.list(java.net.NetworkInterface.getNetworkInterfaces())) {
            for (java.net.InetAddress candidate : java.util.Collections.list(network.getInetAddresses())) {
                if (candidate instanceof java.net.Inet4Address && !candidate.isLoopbackAddress() && network.isUp()) {
                    address = candidate;
                }
            }
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(address != null, "this machine has no non-loopback IPv4 address");
        String ip = address.getHostAddress();
        SimDeployment deployment = SimDeployment.builder(dir).host("here", "{address: " + ip + ", transport: local}")
                .host("elsewhere", "{address: 192.0.2.254, transport: local}")
                .nodeOn("e0", "here").nodeOn("p0", "here").nodeOn("d0", "elsewhere").write();

        Cli.Result check = Cli.run("check", deployment.file().toString());

        assertThat(check.out()).as(check.toString()).containsPattern("(?m)^ok\\s+here\\s+network\\s+" + ip.replace(".", "\\.")
                + " is on " + java.net.NetworkInterface.getByInetAddress(address).getName() + " ");
        if (java.net.NetworkInterface.getByInetAddress(java.net.InetAddress.getByName("192.0.2.254")) == null) {
            assertThat(check.exitCode()).isEqualTo(1);
            assertThat(check.out()).containsPattern("(?m)^failed\\s+elsewhere\\s+network\\s+no network interface of this host "
                    + "carries 192\\.0\\.2\\.254 \\(it has .*127\\.0\\.0\\.1 on ");
        }
    }

    @Test
    void prefillAndDecodeOnDifferentChipTypesFail() throws Exception {
        Path file = Files.writeString(dir.resolve("t.yaml"), """
                name: chips
                model: /models/qwen
                served-model-name: qwenvl
                hosts:
                  a: {address: 192.0.2.10}
                  b: {address: 192.0.2.11}
                ec-transfer: {shared-storage-path: /data/ec_cache}
                kv-transfer: {kv-port: 50001}
                nodes:
                  - {name: e0, role: encoder, host: a, devices: [0], port: 23001}
                  - {name: p0, role: prefill, host: a, devices: [1], port: 33003}
                  - {name: d0, role: decode, host: b, devices: [1], port: 33006}
                proxy: {host: a, port: 8001}
                """);
        Topology topology = TopologyLoader.load(file).topologyOrNull();
        NpuSmi.Report a2 = NpuSmi.parse(HostOutputParsingTest.A2_TABLE);
        NpuSmi.Report a3 = new NpuSmi.Report(Set.of(0, 1), Map.of(), Map.of(0, NpuSmi.chip("Ascend910", true), 1, NpuSmi.chip("Ascend910", true)));

        assertThat(Preflight.chipTypes(topology, Map.of("a", a2, "b", a2))).singleElement().satisfies(finding -> {
            assertThat(finding.level()).isEqualTo(Preflight.Level.OK);
            assertThat(finding.message()).isEqualTo("prefill and decode nodes run on Atlas A2 (910B3) NPUs");
        });
        assertThat(Preflight.chipTypes(topology, Map.of("a", a2, "b", a3))).singleElement().satisfies(finding -> {
            assertThat(finding.level()).isEqualTo(Preflight.Level.FAILED);
            assertThat(finding.host()).isEqualTo("a");
            assertThat(finding.message()).isEqualTo("prefill and decode nodes run on different chip types (p0 Atlas A2 (910B3), "
                    + "d0 Atlas A3 (Ascend910)): a KV cache is not transferred between Atlas A2 and Atlas A3 chips; "
                    + "place them on one chip type");
        });
        assertThat(Preflight.chipTypes(topology, Map.of("a", a2))).singleElement()
                .extracting(Preflight.Finding::level).isEqualTo(Preflight.Level.OK);
        assertThat(Preflight.chipTypes(topology, Map.of())).isEmpty();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "1 | OK      | net.ipv4.tcp_migrate_req = 1: a proxy hand-over moves the connections queued at the old proxy to the new one",
        "0 | WARNING | net.ipv4.tcp_migrate_req = 0: in a proxy hand-over, connections queued at the old proxy as it stops listening"
                + " are reset, and their clients must send their requests again; to move them to the new proxy: sysctl -w"
                + " net.ipv4.tcp_migrate_req=1 (and net.ipv4.tcp_migrate_req = 1 in a file of /etc/sysctl.d/ to keep it)",
        "'' | WARNING | this kernel has no net.ipv4.tcp_migrate_req (Linux 5.14 added it): in a proxy hand-over, connections"
                + " queued at the old proxy as it stops listening are reset, and their clients must send their requests again"})
    void theProxysHostIsToldWhetherAHandOverMovesQueuedConnections(String setting, Preflight.Level level, String message) {
        assertThat(Preflight.handOver("h", setting)).isEqualTo(new Preflight.Finding("h", "hand-over", level, message));
    }

    /** A port the kernel handed out as ephemeral a moment ago, free again. */
    static int ephemeralPort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    static void withPort(SimDeployment deployment, String node, int port) throws Exception {
        String yaml = Files.readString(deployment.file());
        String from = "{name: " + node + ", ";
        int at = yaml.indexOf(from);
        String line = yaml.substring(at, yaml.indexOf('\n', at));
        Files.writeString(deployment.file(), yaml.replace(line, line.replace("port: " + deployment.port(node) + "", "port: " + port)));
    }

    /** The sysctl line for {@code port}, with what this machine reserves already (nothing, on a default system). */
    static String reserveLine(int port) throws Exception {
        String reserved = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_reserved_ports")).stream()
                .findFirst().orElse("").strip();
        return reserved.isEmpty()
                ? "Reserve them: sysctl -w net\\.ipv4\\.ip_local_reserved_ports=" + port + " \\(and, to keep it across reboots, "
                        + "the line 'net\\.ipv4\\.ip_local_reserved_ports = " + port + "' in /etc/sysctl\\.d/90-epdctl-reserved-ports\\.conf\\)"
                : "Reserve them: sysctl -w net\\.ipv4\\.ip_local_reserved_ports=\\S*" + port;
    }
}
