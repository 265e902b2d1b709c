package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.epdctl.testing.SystemTest;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import io.epdctl.transport.LocalTransport;
import org.junit.jupiter.api.io.TempDir;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What epdctl reads off a host: the kernel's socket tables and npu-smi's table. */
class HostOutputParsingTest {

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

        String withoutNpuSmi = "PATH=/usr/bin:/bin; " + NpuSmi.COMMAND;
        assertThat(NpuSmi.interpret("here", here.run(withoutNpuSmi, Duration.ofSeconds(10)).stdout())).isEmpty();
        String failing = "PATH=" + bin + ":/usr/bin:/bin; " + NpuSmi.COMMAND;
        String output = here.run(failing, Duration.ofSeconds(10)).stdout();
        assertThatThrownBy(() -> NpuSmi.interpret("here", output))
                .hasMessage("here: npu-smi info failed: dcmi module initialize failed. ret is -8005");
    }

    private static String tables() throws IOException {
        return Files.readString(Path.of("/proc/net/tcp")) + Files.readString(Path.of("/proc/net/tcp6"));
    }
}
