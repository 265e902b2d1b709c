package io.epdctl.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SshAgent;
import io.epdctl.testing.SshServer;
import io.epdctl.testing.SystemTest;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SSH transport against a real sshd: keys, agent, ssh_config, host key checks, failures. */
@SystemTest
class SshTransportTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static SshServer server;

    @TempDir
    Path dir;
    private final List<Transport> opened = new ArrayList<>();

    @BeforeAll
    static void startSshd() throws Exception {
        server = SshServer.start("127.0.0.2");
    }

    @AfterAll
    static void stopSshd() {
        server.close();
    }

    @AfterEach
    void leavesNothingRunning() throws Exception {
        opened.forEach(Transport::close);
        server.awaitNoSessions();
        assertThat(ProcessTable.killSurvivors(server::sessionProcesses)).isEmpty();
    }

    private SshTransport connect(HostTarget host, SshOptions options) throws TransportException {
        SshTransport transport = SshTransport.connect(host, options);
        opened.add(transport);
        return transport;
    }

    private static String whoami(Transport transport) throws TransportException {
        return transport.run("id -un", TIMEOUT).stdout().trim();
    }

    @Test
    void logsInWithAnEd25519Key() throws Exception {
        assertThat(whoami(connect(server.host("h", server.ed25519Key()), server.options()))).isEqualTo(server.user());
    }

    @Test
    void logsInWithAnRsaKey() throws Exception {
        assertThat(whoami(connect(server.host("h", server.rsaKey()), server.options()))).isEqualTo(server.user());
    }

    @Test
    void logsInWithAPassphraseProtectedKeyHeldByTheAgent() throws Exception {
        try (SshAgent agent = SshAgent.start()) {
            agent.add(server.encryptedKey(), SshServer.PASSPHRASE);
            SshOptions withAgent = new SshOptions(server.knownHosts(), false, List.of(), agent.socket(), List.of(), Duration.ofSeconds(10));

            // No key file anywhere: only the agent can log in.
            assertThat(whoami(connect(server.host("h", null), withAgent))).isEqualTo(server.user());
            // The topology names the protected file: the agent's copy of that key signs.
            assertThat(whoami(connect(server.host("h", server.encryptedKey()), withAgent))).isEqualTo(server.user());
        }
    }

    @Test
    void aPassphraseProtectedKeyWithoutAgentIsExplained() {
        assertThatThrownBy(() -> connect(server.host("gpu1", server.encryptedKey()), server.options()))
                .isInstanceOf(TransportException.class)
                .hasMessageStartingWith("gpu1 (" + server.user() + "@127.0.0.2:" + server.port() + "): login refused")
                .hasMessageContaining(server.encryptedKey() + " is passphrase-protected and ssh-agent does not hold it")
                .hasMessageContaining("ssh-add " + server.encryptedKey())
                .hasMessageContaining("SSH_AUTH_SOCK is not set");
    }

    @Test
    void aKeyTheServerDoesNotAcceptIsNamedInTheMessage() throws Exception {
        Path stranger = dir.resolve("id_stranger");
        Process keygen = new ProcessBuilder("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", stranger.toString())
                .redirectErrorStream(true).start();
        assertThat(keygen.waitFor()).isZero();

        assertThatThrownBy(() -> connect(server.host("gpu1", stranger), server.options()))
                .isInstanceOf(TransportException.class)
                .hasMessage("gpu1 (" + server.user() + "@127.0.0.2:" + server.port() + "): login refused: no key accepted; tried "
                        + stranger + "; no ssh-agent (SSH_AUTH_SOCK is not set)");
    }

    @Test
    void aMissingIdentityFileFromTheTopologyIsAnError() {
        Path missing = dir.resolve("nope");
        assertThatThrownBy(() -> connect(server.host("gpu1", missing), server.options()))
                .hasMessage("gpu1: identity file " + missing + " (from the topology) does not exist");
    }

    @Test
    void followsTheUsersSshConfig() throws Exception {
        Path config = dir.resolve("config");
        Files.writeString(config, String.join("\n",
                "Host other",
                "  Port 1",
                "Host gpu-box",
                "  HostName " + server.address(),
                "  Port " + server.port(),
                "  User " + server.user(),
                "  IdentityFile " + server.rsaKey(),
                "Host *",
                "  Port 2",
                ""));
        SshOptions options = new SshOptions(server.knownHosts(), false, List.of(config), null,
                List.of(server.ed25519Key()), Duration.ofSeconds(10));
        HostTarget bare = new HostTarget("box", "gpu-box", false, null, null, null);

        SshTransport transport = connect(bare, options);

        assertThat(transport.run("echo $SSH_CONNECTION", TIMEOUT).stdout()).endsWith(" " + server.address() + " " + server.port() + "\n");
        assertThat(whoami(transport)).isEqualTo(server.user());
    }

    @Test
    void theDefaultKeyFilesAreTriedWhenNothingNamesOne() throws Exception {
        SshOptions options = new SshOptions(server.knownHosts(), false, List.of(), null,
                List.of(dir.resolve("id_ed25519"), server.rsaKey()), Duration.ofSeconds(10));

        assertThat(whoami(connect(server.host("h", null), options))).isEqualTo(server.user());
    }

    @Test
    void concurrentCommandsShareOneConnection() throws Exception {
        SshTransport transport = connect(server.host("h", server.ed25519Key()), server.options());
        ExecutorService pool = Executors.newFixedThreadPool(12);
        try {
            List<Future<CommandResult>> results = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                int n = i;
                results.add(pool.submit(() -> transport.run("sleep 0.3; echo " + n + " $SSH_CONNECTION", TIMEOUT)));
            }
            List<String> connections = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                String[] words = results.get(i).get().stdout().trim().split(" ", 2);
                assertThat(words[0]).isEqualTo(String.valueOf(i));
                connections.add(words[1]);
            }
            // SSH_CONNECTION holds the client's port: one value means one TCP connection.
            assertThat(connections).hasSize(12).containsOnly(connections.get(0));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void reconnectsWhenTheConnectionWasLost() throws Exception {
        SshTransport transport = connect(server.host("h", server.ed25519Key()), server.options());
        String first = transport.run("echo $SSH_CONNECTION", TIMEOUT).stdout();

        server.sessionProcesses().forEach(ProcessHandle::destroyForcibly); // the connection's sshd processes
        ProcessTable.awaitGone(server::sessionProcesses);

        String second = transport.run("echo $SSH_CONNECTION", TIMEOUT).stdout();
        assertThat(second).isNotEqualTo(first).endsWith(" " + server.port() + "\n");
    }

    @Test
    void aClosedTransportDoesNotReconnect() throws Exception {
        SshTransport transport = connect(server.host("h", server.ed25519Key()), server.options());
        transport.close();

        assertThatThrownBy(() -> transport.run("true", TIMEOUT)).hasMessage("h: the SSH connection was closed");
    }

    @Test
    void anUnknownHostKeyIsRefusedWithItsFingerprint() throws Exception {
        Path knownHosts = dir.resolve("known_hosts");
        Files.writeString(knownHosts, "");
        SshOptions options = new SshOptions(knownHosts, false, List.of(), null, List.of(), Duration.ofSeconds(10));

        assertThatThrownBy(() -> connect(server.host("gpu1", server.ed25519Key()), options))
                .isInstanceOf(TransportException.class)
                .hasMessageStartingWith("gpu1 (" + server.user() + "@127.0.0.2:" + server.port() + "): unknown host key: ")
                .hasMessageContaining("ssh-ed25519 key " + server.hostKeyFingerprint())
                .hasMessageContaining("--accept-new-host-keys");
        assertThat(Files.readString(knownHosts)).isEmpty();
    }

    @Test
    void acceptingNewKeysRecordsTheKeyAsOpenSshDoesAndLaterConnectionsCheckIt() throws Exception {
        Path knownHosts = dir.resolve("ssh").resolve("known_hosts");
        SshOptions accepting = new SshOptions(knownHosts, true, List.of(), null, List.of(), Duration.ofSeconds(10));

        whoami(connect(server.host("h", server.ed25519Key()), accepting));

        assertThat(Files.readString(knownHosts)).startsWith(server.knownHostsName() + " ssh-ed25519 ");
        assertThat(sshKeygenFinds(knownHosts)).isTrue();
        assertThat(whoami(connect(server.host("h", server.ed25519Key()), accepting.withAcceptNewHostKeys(false))))
                .isEqualTo(server.user());
    }

    @Test
    void newKeysAreHashedWhenTheConfigSaysHashKnownHosts() throws Exception {
        Path knownHosts = dir.resolve("known_hosts");
        Files.writeString(knownHosts, "# kept\nother.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDyPx1z2CJdQpOWxIBwRYYeNkOkRAHjr2dl2ZPv3Q0d+");
        Path config = dir.resolve("config");
        Files.writeString(config, "Host *\n  HashKnownHosts yes\n");
        SshOptions accepting = new SshOptions(knownHosts, true, List.of(config), null, List.of(), Duration.ofSeconds(10));

        whoami(connect(server.host("h", server.ed25519Key()), accepting));

        List<String> lines = Files.readAllLines(knownHosts);
        assertThat(lines).hasSize(3);
        assertThat(lines.get(0)).isEqualTo("# kept");
        assertThat(lines.get(2)).startsWith("|1|").doesNotContain(server.address());
        assertThat(sshKeygenFinds(knownHosts)).isTrue();
        assertThat(whoami(connect(server.host("h", server.ed25519Key()), accepting.withAcceptNewHostKeys(false))))
                .isEqualTo(server.user());
    }

    @Test
    void aChangedHostKeyIsRefusedEvenWhenNewKeysAreAccepted() throws Exception {
        try (SshServer reinstalled = SshServer.start("127.0.0.3")) {
            String before = Files.readString(reinstalled.knownHosts());
            reinstalled.replaceHostKey();
            SshOptions accepting = reinstalled.options().withAcceptNewHostKeys(true);

            assertThatThrownBy(() -> SshTransport.connect(reinstalled.host("gpu2", reinstalled.ed25519Key()), accepting))
                    .isInstanceOf(TransportException.class)
                    .hasMessageStartingWith("gpu2 (" + reinstalled.user() + "@127.0.0.3:" + reinstalled.port() + "): the host key has CHANGED")
                    .hasMessageContaining("ssh-ed25519 key " + reinstalled.hostKeyFingerprint())
                    .hasMessageContaining("possible man-in-the-middle attack")
                    .hasMessageContaining("even with --accept-new-host-keys");
            assertThat(Files.readString(reinstalled.knownHosts())).isEqualTo(before);
        }
    }

    @Test
    void aRefusedConnectionSaysSo() throws Exception {
        int closedPort;
        try (ServerSocket probe = new ServerSocket()) {
            probe.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 0));
            closedPort = probe.getLocalPort();
        }
        HostTarget host = new HostTarget("gpu1", "127.0.0.2", false, server.user(), closedPort, server.ed25519Key().toString());

        assertThatThrownBy(() -> connect(host, server.options()))
                .hasMessage("gpu1 (" + server.user() + "@127.0.0.2:" + closedPort + "): connection refused: no SSH server listens on port " + closedPort);
    }

    @Test
    void anUnresolvableNameSaysSo() {
        HostTarget host = new HostTarget("gpu1", "no-such-host.invalid", false, "root", 22, server.ed25519Key().toString());

        assertThatThrownBy(() -> connect(host, server.options()))
                .hasMessage("gpu1 (root@no-such-host.invalid:22): cannot resolve the host name no-such-host.invalid (DNS)");
    }

    @Test
    void aServerThatNeverAnswersTimesOut() throws Exception {
        // Accepts TCP connections (in the kernel's backlog) and never speaks SSH.
        try (ServerSocket silent = new ServerSocket()) {
            silent.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 0));
            HostTarget host = new HostTarget("gpu1", "127.0.0.2", false, "root", silent.getLocalPort(), server.ed25519Key().toString());
            SshOptions impatient = new SshOptions(server.knownHosts(), false, List.of(), null, List.of(), Duration.ofSeconds(1));

            assertThatThrownBy(() -> connect(host, impatient))
                    .hasMessage("gpu1 (root@127.0.0.2:" + silent.getLocalPort() + "): timed out after 1 s waiting for the host to complete the SSH handshake");
        }
    }

    private boolean sshKeygenFinds(Path knownHosts) throws IOException, InterruptedException {
        Process find = new ProcessBuilder("ssh-keygen", "-F", server.knownHostsName(), "-f", knownHosts.toString())
                .redirectErrorStream(true).start();
        String output = new String(find.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return find.waitFor() == 0 && !output.isBlank();
    }
}
