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
        assertThat(states.get("d0")).isEqualTo(new ProcessState(ProcessState.Kind.EXITED, 3, null, null));
        assertThat(states.get("p0").kind()).isEqualTo(ProcessState.Kind.ORPHANED);
        assertThat(states.get("p1").kind()).isEqualTo(ProcessState.Kind.REUSED);
        assertThat(states.get("p2").kind()).isEqualTo(ProcessState.Kind.GONE);
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
        String output = """
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

        NpuSmi.Report report = NpuSmi.parse(output);

        assertThat(report.npus()).containsExactly(0, 1);
        assertThat(report.busy()).isEqualTo(Map.of(1, 48213L));
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

    private static String tables() throws IOException {
        return Files.readString(Path.of("/proc/net/tcp")) + Files.readString(Path.of("/proc/net/tcp6"));
    }
}
