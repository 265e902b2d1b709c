package io.epdctl.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SshServer;
import io.epdctl.testing.SystemTest;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Opening every host of a topology at once, when some of them cannot be reached. */
@SystemTest
class HostConnectionsTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @Test
    void opensEveryReachableHostAndRemembersWhyTheOthersFailed() throws Exception {
        int closedPort;
        try (ServerSocket probe = new ServerSocket()) {
            probe.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.5"), 0));
            closedPort = probe.getLocalPort();
        }
        try (SshServer first = SshServer.start("127.0.0.3"); SshServer second = SshServer.start("127.0.0.4")) {
            // Both servers trust the same known_hosts file and key, as one operator's ~/.ssh would.
            Files.writeString(first.knownHosts(),
                    Files.readString(first.knownHosts()) + Files.readString(second.knownHosts()));
            Files.writeString(second.dir().resolve("authorized_keys"),
                    Files.readString(first.ed25519Key().resolveSibling("id_ed25519.pub")));
            List<HostTarget> hosts = List.of(
                    HostTarget.local("here", "127.0.0.1"),
                    first.host("gpu1", first.ed25519Key()),
                    second.host("gpu2", first.ed25519Key()),
                    new HostTarget("gpu3", "127.0.0.5", false, first.user(), closedPort, first.ed25519Key().toString()));

            try (HostConnections connections = HostConnections.open(hosts, first.options())) {
                assertThat(connections.require("here")).isInstanceOf(LocalTransport.class);
                assertThat(connections.require("gpu1").run("echo $SSH_CONNECTION", TIMEOUT).stdout()).contains(" 127.0.0.3 ");
                assertThat(connections.require("gpu2").run("echo $SSH_CONNECTION", TIMEOUT).stdout()).contains(" 127.0.0.4 ");
                assertThat(connections.transport("gpu3")).isEmpty();
                assertThat(connections.failures()).containsOnlyKeys("gpu3");
                assertThat(connections.failures().get("gpu3").getMessage()).startsWith("gpu3 (").contains("connection refused");
                assertThatThrownBy(() -> connections.require("gpu3")).hasMessageContaining("connection refused");
                assertThatThrownBy(() -> connections.require("gpu9")).hasMessageContaining("gpu9");
            }

            first.awaitNoSessions();
            second.awaitNoSessions();
            assertThat(ProcessTable.describe(first.sessionProcesses())).isEmpty();
            assertThat(ProcessTable.describe(second.sessionProcesses())).isEmpty();
        }
    }
}
