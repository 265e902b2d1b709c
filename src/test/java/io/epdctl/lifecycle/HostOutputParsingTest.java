package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.epdctl.testing.SystemTest;
import io.epdctl.transport.CommandResult;
import io.epdctl.transport.LocalTransport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What epdctl reads off a host: its own commands' reports, the kernel's socket tables and npu-smi's table. */
class HostOutputParsingTest {
    /** npu-smi info of an Atlas A2 host: two NPUs, a process on NPU 1. */
    static final String A2_TABLE = """
                +------------------------------------------------------------------------------------------------+
                | npu-smi 24.1.rc2                 Version: 24.1.rc2                                             |
                +---------------------------+---------------+----------------------------------------------------+
                | NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
                | Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
                +===========================+===============+====================================================+
                | 0     910B3               | OK            | 93.1        40                0    / 0             |
                | 0                         | 0000:C1:00.0  | 0           0    / 0          3389 / 65536         |
                +===========================+===============+====================================================+
                | 1     910B3               | OK            | 90.5        41                0    / 0             |
                | 0                         | 0000:C2:00.0  | 0           0    / 0          60012/ 65536         |
                +===========================+===============+====================================================+
                +---------------------------+---------------+----------------------------------------------------+
                | NPU     Chip              | Process id    | Process name             | Process memory(MB)      |
                +===========================+===============+====================================================+
                | No running processes found in NPU 0                                                            |
                +===========================+===============+====================================================+
                | 1       0                 | 48213         | python3                  | 56689                   |
                +===========================+===============+====================================================+
                """;

    @Test
    void onlyReportLinesAreReadAndLinesOfTheOldShapeOrWithoutAPidAreNot() {
        String output = String.join("\n",
                "31337",
                "e0 999 888", // a line any command could print, in the shape pids had before reports
                "@epdctl started e0 4242 777",
                "@epdctl started p-0 notapid 1",
                "@epdctl startedd0 1 2",
                "@epdctl state d0 running",
                "");

        assertThat(HostCommands.startedPids(output)).isEqualTo(Map.of("e0", new HostCommands.PidAndTicks(4242, "777")));
        assertThat(HostCommands.reports(output, "state")).containsExactly("d0 running");
        assertThat(HostCommands.reports(output, "stopped")).isEmpty();
    }

    @Test
    void probeReportsGiveEachNodesStateWithItsFatalLine() {
        String output = String.join("\n",
                "e0 exited 1", // not a report
                "@epdctl state e0 running",
                "@epdctl state d0 exited 3",
                "@epdctl state p0 orphaned",
                "@epdctl state p1 reused",
                "@epdctl state p2 gone",
                "@epdctl fatal e0 RuntimeError: Engine core initialization failed. See root cause above.",
                "@epdctl fatal d9 a node not probed",
                "");

        Map<String, ProcessState> states = HostCommands.states(output);

        assertThat(states).containsOnlyKeys("e0", "d0", "p0", "p1", "p2");
        assertThat(states.get("e0")).isEqualTo(ProcessState.of(ProcessState.Kind.RUNNING)
                .withFatalLine("RuntimeError: Engine core initialization failed. See root cause above."));
        assertThat(states.get("d0")).isEqualTo(new ProcessState(ProcessState.Kind.EXITED, 3, null, null, ProcessState.Supervision.NONE));
        assertThat(states.get("p0").kind()).isEqualTo(ProcessState.Kind.ORPHANED);
        assertThat(states.get("p1").kind()).isEqualTo(ProcessState.Kind.REUSED);
        assertThat(states.get("p2").kind()).isEqualTo(ProcessState.Kind.GONE);
    }

    @Test
    void whatTheSupervisorRecordedIsAddedToItsNodesState() {
        String output = String.join("\n",
                "@epdctl state e0 running",
                "@epdctl exits e0 2 1764640000 137 restart",
                "@epdctl restarting e0 3 1764640004",
                "@epdctl state d0 exited 1",
                "@epdctl exits d0 4 1764640100 1 crash-loop",
                "@epdctl state p0 running",
                "@epdctl exits p0 x 1 2 restart",
                "@epdctl restarting p0 soon",
                "@epdctl exits d9 1 1 1 restart",
                "");

        Map<String, ProcessState> states = HostCommands.states(output);

        ProcessState e0 = states.get("e0");
        assertThat(e0.supervision().restarts()).isEqualTo(2);
        assertThat(e0.supervision().lastExit()).isEqualTo(new ProcessState.LastExit(java.time.Instant.ofEpochSecond(1764640000L), 137, "restart"));
        assertThat(e0.supervision().lastExit().describe()).isEqualTo("killed by signal 9 (KILL)");
        assertThat(e0.supervision().restarting()).isEqualTo(new ProcessState.Restarting(3, java.time.Instant.ofEpochSecond(1764640004L)));
        assertThat(e0.isRestarting()).isTrue();
        assertThat(e0.isCrashLoop()).isFalse();
        ProcessState d0 = states.get("d0");
        assertThat(d0.isCrashLoop()).isTrue();
        assertThat(d0.supervision().lastExit().describe()).isEqualTo("exited with status 1");
        assertThat(d0.supervision().lastExit().signal()).isNull();
        assertThat(states.get("p0").supervision()).as("malformed reports are not data").isEqualTo(ProcessState.Supervision.NONE);
        assertThat(states).doesNotContainKey("d9");
    }

    @Test
    @SystemTest
    void aCommandsPathIsReportedWhateverItsSetupLinesPrint() throws Exception {
        LocalTransport here = new LocalTransport("here");
        List<String> chattySetup = List.of("echo /not/the/path", "export EPDCTL_TEST_SETUP=1", "printf 42");

        CommandResult found = here.run(HostCommands.commandPath(chattySetup, "sh"), Duration.ofSeconds(10));
        CommandResult missing = here.run(HostCommands.commandPath(chattySetup, "epdctl-no-such-command"), Duration.ofSeconds(10));

        assertThat(found.exitCode()).isZero();
        assertThat(HostCommands.reports(found.stdout(), "path")).containsExactly(
                here.run("command -v sh", Duration.ofSeconds(10)).stdout().strip());
        assertThat(missing.exitCode()).isNotZero();
        assertThat(HostCommands.reports(missing.stdout(), "path")).isEmpty();
    }

    @Test
    void aPortThisTestListensOnIsSeenInTheKernelsTablesAndGoneAfterClose() throws IOException {
        int port;
        try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = listener.getLocalPort();
            assertThat(Listeners.ports(tables())).contains(port);
        }
        assertThat(Listeners.ports(tables())).doesNotContain(port);
    }

    @Test
    void onlyListeningSocketsCount() {
        String tables = """
                  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
                   0: 0100007F:5DC1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
                   1: 0100007F:A2C4 0100007F:5DC1 01 00000000:00000000 00:00000000 00000000     0        0 2 1
                  sl  local_address                         remote_address                        st
                   0: 00000000000000000000000000000000:1F41 00000000000000000000000000000000:0000 0A 0
                """;

        assertThat(Listeners.ports(tables)).containsExactly(8001, 24001);
    }

    @Test
    void npuSmiListsTheNpusAndTheProcessesOnThem() {
        String output = A2_TABLE;

        NpuSmi.Report report = NpuSmi.parse(output);

        assertThat(report.npus()).containsExactly(0, 1);
        assertThat(report.busy()).isEqualTo(Map.of(1, 48213L));
        assertThat(report.chips().values()).extracting(NpuSmi.Chip::describe).containsOnly("Atlas A2 (910B3)");
    }

    @Test
    @SystemTest
    void npuSmiMissingMeansNoCheckAndNpuSmiFailingIsAnError(@TempDir Path bin) throws Exception {
        LocalTransport here = new LocalTransport("here");
        Path npuSmi = bin.resolve("npu-smi");
        Files.writeString(npuSmi, "#!/bin/sh\necho 'dcmi module initialize failed. ret is -8005' >&2\nexit 1\n");
        npuSmi.toFile().setExecutable(true);

        String withoutNpuSmi = "PATH=/usr/bin:/bin; " + HostCommands.npuSmi();
        assertThat(NpuSmi.interpret("here", here.run(withoutNpuSmi, Duration.ofSeconds(10)).stdout())).isEmpty();
        String failing = "PATH=" + bin + ":/usr/bin:/bin; " + HostCommands.npuSmi();
        String output = here.run(failing, Duration.ofSeconds(10)).stdout();
        assertThatThrownBy(() -> NpuSmi.interpret("here", output))
                .hasMessage("here: npu-smi info failed: dcmi module initialize failed. ret is -8005");
    }

    @Test
    void portsInsideTheEphemeralRangeAndNotReservedAreExposedAndTheSysctlLineKeepsWhatIsReserved() {
        record Row(String reserved, List<Integer> ports, String exposed, String sysctl) {
        }
        List<Integer> guide = List.of(8001, 23001, 33003, 33006, 50001, 50002, 50003, 61000);
        List<Row> rows = List.of(
                new Row("", guide, "33003,33006,50001-50003", "sysctl -w net.ipv4.ip_local_reserved_ports=33003,33006,50001-50003"),
                new Row("8001,33006,40000-40002", guide, "33003,50001-50003",
                        "sysctl -w net.ipv4.ip_local_reserved_ports=8001,33003,33006,40000-40002,50001-50003"),
                new Row("50000\n", List.of(50001, 50002), "50001-50002", "sysctl -w net.ipv4.ip_local_reserved_ports=50000-50002"),
                new Row("33003,33006,50001-50003", guide, "", null),
                new Row("", List.of(32767, 61000), "", null),
                new Row("", List.of(32768, 60999), "32768,60999", "sysctl -w net.ipv4.ip_local_reserved_ports=32768,60999"));
        for (Row row : rows) {
            EphemeralPorts range = EphemeralPorts.parse("32768\t60999\n", row.reserved()).orElseThrow();
            var exposed = range.exposed(row.ports());
            assertThat(EphemeralPorts.format(exposed)).as(row.toString()).isEqualTo(row.exposed());
            if (row.sysctl() != null) {
                assertThat(range.sysctlCommand(exposed)).as(row.toString()).isEqualTo(row.sysctl());
                assertThat(range.advice(exposed)).contains(row.sysctl())
                        .contains("'net.ipv4.ip_local_reserved_ports = " + row.sysctl().substring(row.sysctl().indexOf('=') + 1) + "'")
                        .contains(EphemeralPorts.SYSCTL_FILE);
            }
        }
        assertThat(EphemeralPorts.parse("", "")).isEmpty();
        assertThat(EphemeralPorts.parse("60999 32768", "")).isEmpty();
    }

    @Test
    void npuSmiOfAnA3HostListsEachChipByItsIdAndTheProcessesByNpuAndChip() {
        // The A3 layout: a row per chip, the header's first cell "Chip Phy-ID"; device ids are the chips' ids.
        String output = """
                +------------------------------------------------------------------------------------------------+
                | npu-smi 25.0.rc1                 Version: 25.0.rc1                                             |
                +---------------------------+---------------+----------------------------------------------------+
                | NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
                | Chip  Phy-ID              | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
                +===========================+===============+====================================================+
                | 0     Ascend910           | OK            | 165.2       38                0    / 0             |
                | 0     0                   | 0000:9D:00.0  | 0           0    / 0          3400 / 65536         |
                +---------------------------+---------------+----------------------------------------------------+
                | 0     Ascend910           | OK            | -           39                0    / 0             |
                | 1     1                   | 0000:9F:00.0  | 0           0    / 0          3160 / 65536         |
                +===========================+===============+====================================================+
                | 1     Ascend910           | OK            | 158.0       40                0    / 0             |
                | 0     2                   | 0000:99:00.0  | 0           0    / 0          3120 / 65536         |
                +---------------------------+---------------+----------------------------------------------------+
                | 1     Ascend910           | OK            | -           40                0    / 0             |
                | 1     3                   | 0000:9B:00.0  | 0           0    / 0          61000/ 65536         |
                +===========================+===============+====================================================+
                +---------------------------+---------------+----------------------------------------------------+
                | NPU     Chip              | Process id    | Process name             | Process memory(MB)      |
                +===========================+===============+====================================================+
                | 1       1                 | 51234         | python3                  | 57800                   |
                +===========================+===============+====================================================+
                """;

        NpuSmi.Report report = NpuSmi.parse(output);

        assertThat(report.npus()).containsExactly(0, 1, 2, 3);
        assertThat(report.busy()).isEqualTo(Map.of(3, 51234L));
        assertThat(report.chips().values()).extracting(NpuSmi.Chip::describe).containsOnly("Atlas A3 (Ascend910)");
    }

    @Test
    void chipFamiliesFromTheNamesNpuSmiPrints() {
        assertThat(NpuSmi.chip("910B3", false).family()).isEqualTo("Atlas A2");
        assertThat(NpuSmi.chip("910B4", false).family()).isEqualTo("Atlas A2");
        assertThat(NpuSmi.chip("Ascend910", true).family()).isEqualTo("Atlas A3");
        assertThat(NpuSmi.chip("Ascend910_9382", false).family()).isEqualTo("Atlas A3");
        assertThat(NpuSmi.chip("310P3", false).describe()).isEqualTo("310P3");
    }

    @Test
    void hccnToolAnswersPerDevice() {
        var links = NpuLinks.parse(List.of(
                "0 link link status: UP ",
                "0 health net health status: Success ",
                "1 link link status: DOWN ",
                "1 health net health status: Success ",
                "2 link link status: UP ",
                "2 health net health status: Fault ",
                "3 link Usage: hccn_tool -i <id> ... ", // an old tool that does not know the command
                "3 health ",
                "x link not a device")).orElseThrow();

        assertThat(links).containsOnlyKeys(0, 1, 2, 3);
        assertThat(links.get(0).problem()).isEmpty();
        assertThat(links.get(1).problem()).hasValue("NPU 1: hccn_tool -i 1 -link -g says 'link status: DOWN' (want link status: UP)");
        assertThat(links.get(2).problem()).hasValue(
                "NPU 2: hccn_tool -i 2 -net_health -g says 'net health status: Fault' (want net health status: Success)");
        assertThat(links.get(3).problem()).isPresent();
        assertThat(NpuLinks.parse(List.of(NpuLinks.ABSENT))).isEmpty();
    }

    @Test
    @SystemTest
    void hostFactsInOneRoundTripWithAndWithoutTheAscendTools(@TempDir Path bin) throws Exception {
        LocalTransport here = new LocalTransport("here");
        Path hccn = bin.resolve("hccn_tool");
        // A stand-in answering as hccn_tool does: device 1's port is down.
        Files.writeString(hccn, """
                #!/bin/sh
                echo 'a line the tool prints first'
                case "$3" in
                  -link) if [ "$2" = 1 ]; then echo 'link status: DOWN'; else echo 'link status: UP'; fi ;;
                  -net_health) echo 'net health status: Success' ;;
                esac
                """);
        hccn.toFile().setExecutable(true);
        Path npuSmi = bin.resolve("npu-smi");
        Files.writeString(npuSmi, "#!/bin/sh\ncat <<'EOF'\n" + A2_TABLE + "EOF\n");
        npuSmi.toFile().setExecutable(true);

        try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            HostFacts bare = HostCommands.facts("here",
                    here.run("PATH=/usr/bin:/bin; " + HostCommands.hostFacts(List.of(0, 1)), Duration.ofSeconds(10)).stdout());
            HostFacts tools = HostCommands.facts("here",
                    here.run("PATH=" + bin + ":/usr/bin:/bin; " + HostCommands.hostFacts(List.of(0, 1)), Duration.ofSeconds(10)).stdout());

            assertThat(bare.listening()).contains(listener.getLocalPort());
            // readAllLines: Files.readString gets only the first byte of this sysctl file (JDK 17)
            String[] range = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).strip().split("\\s+");
            assertThat(bare.ephemeral()).hasValueSatisfying(ports -> {
                assertThat(ports.first()).isEqualTo(Integer.parseInt(range[0]));
                assertThat(ports.last()).isEqualTo(Integer.parseInt(range[1]));
                assertThat(ports.exposed(List.of(listener.getLocalPort()))).as("port 0 binds an ephemeral port")
                        .containsExactly(listener.getLocalPort());
            });
            // readAllLines for the same reason; the kernel may lack the setting (before Linux 5.14)
            Path migrate = Path.of("/proc/sys/net/ipv4/tcp_migrate_req");
            assertThat(bare.migrateRequests()).isEqualTo(Files.exists(migrate) ? Files.readAllLines(migrate).get(0).strip() : "");
            assertThat(bare.npus()).isEmpty();
            assertThat(bare.links()).isEmpty();
            assertThat(bare.interfaces()).containsEntry("127.0.0.1",
                    java.net.NetworkInterface.getByInetAddress(InetAddress.getByName("127.0.0.1")).getName());

            assertThat(tools.listening()).contains(listener.getLocalPort());
            assertThat(tools.npus()).hasValueSatisfying(report -> assertThat(report.busy()).isEqualTo(Map.of(1, 48213L)));
            assertThat(tools.links()).hasValueSatisfying(links -> {
                assertThat(links.get(0).problem()).isEmpty();
                assertThat(links.get(1).problem()).hasValue("NPU 1: hccn_tool -i 1 -link -g says 'a line the tool prints first "
                        + "link status: DOWN' (want link status: UP)");
            });
        }
    }

    @Test
    void interfacesByAddressFromIpOAddr() {
        List<String> lines = List.of(
                "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
                "1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever",
                "4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever preferred_lft forever",
                "5: bond0    inet 10.0.0.3/16 brd 10.0.255.255 scope global bond0\\       valid_lft forever preferred_lft forever",
                "4: eth0    inet6 fd00::2/64 scope global nodad \\       valid_lft forever preferred_lft forever",
                "6: eth1    inet 192.0.2.2/24 scope global secondary eth1",
                "not an address line");

        assertThat(HostFacts.interfaces(lines)).as("the first interface of an address wins").isEqualTo(Map.of(
                "127.0.0.1", "lo", "::1", "lo", "192.0.2.2", "eth0", "10.0.0.3", "bond0", "fd00::2", "eth0"));
    }

    private static String tables() throws IOException {
        return Files.readString(Path.of("/proc/net/tcp")) + Files.readString(Path.of("/proc/net/tcp6"));
    }
}
