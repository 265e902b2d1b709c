package io.epdctl.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FreePortsTest {
    @TempDir
    Path dir;

    @Test
    void theEphemeralRangeStartsWhereTheKernelSays() throws IOException {
        assertThat(FreePorts.ephemeralStart(write("40000\t60999\n"))).isEqualTo(40000);
        assertThat(FreePorts.ephemeralStart(write("32768 60999"))).isEqualTo(32768);
    }

    @Test
    void anUnreadableOrCrampedRangeFallsBackToLinuxsDefault() throws IOException {
        assertThat(FreePorts.ephemeralStart(dir.resolve("missing"))).isEqualTo(32768);
        assertThat(FreePorts.ephemeralStart(write("garbage"))).isEqualTo(32768);
        assertThat(FreePorts.ephemeralStart(write("1024 65535"))).isEqualTo(32768);
    }

    @Test
    void aPickedPortIsBelowTheEphemeralRangeAndBindable() throws IOException {
        int below = FreePorts.ephemeralStart(Path.of("/proc/sys/net/ipv4/ip_local_port_range"));
        for (String address : new String[] {null, "127.0.0.2"}) {
            int port = FreePorts.pick(address);
            assertThat(port).isBetween(FreePorts.LOWEST, below - 1);
            try (ServerSocket socket = new ServerSocket()) {
                socket.bind(new InetSocketAddress(address == null ? null : InetAddress.getByName(address), port));
                assertThat(socket.getLocalPort()).isEqualTo(port);
            }
        }
    }

    @Test
    void aPortBelowABoundStaysBelowIt() {
        int port = FreePorts.pickBelow(FreePorts.LOWEST + 50);
        assertThat(port).isBetween(FreePorts.LOWEST, FreePorts.LOWEST + 49);
    }

    private Path write(String text) throws IOException {
        Path file = dir.resolve("range" + text.hashCode());
        Files.writeString(file, text);
        return file;
    }
}
