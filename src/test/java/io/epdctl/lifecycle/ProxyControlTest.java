package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.epdctl.proxy.ControlFile;
import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SimCluster;
import io.epdctl.testing.SimNode;
import io.epdctl.testing.SshServer;
import io.epdctl.testing.SystemTest;
import io.epdctl.topology.Role;
import io.epdctl.transport.LocalTransport;
import io.epdctl.transport.SshTransport;
import io.epdctl.transport.Transport;
import io.epdctl.transport.Tunnel;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link ProxyControl} against a real {@code epdctl proxy} process and vllm-sim nodes, over this machine's
 * transport and over a real sshd on loopback: the control file read on the host, the control port reached
 * through the transport.
 */
@SystemTest
class ProxyControlTest {
    private static final String CHAT = "{\"model\":\"" + "qwenvl" + "\",\"max_tokens\":4,\"stream\":true,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}";
    private static SshServer sshd;
    @TempDir
    Path dir;
    private final List<AutoCloseable> resources = new ArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeAll
    static void startSshd() throws Exception {
        sshd = SshServer.start("127.0.0.9");
    }

    @AfterAll
    static void stopSshd() {
        sshd.close();
    }

    @AfterEach
    void leavesNothingRunning() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
        sshd.awaitNoSessions();
        assertThat(ProcessTable.killSurvivors(sshd::sessionProcesses)).isEmpty();
        assertThat(ProcessTable.killSurvivors(ProcessTable::startedByTests)).isEmpty();
    }

    private Transport transport(String kind) throws Exception {
        Transport transport = kind.equals("local") ? new LocalTransport("here")
                : SshTransport.connect(sshd.host("there", sshd.ed25519Key()), sshd.options());
        resources.add(transport);
        return transport;
    }

    private SimNode pd(String name) {
        SimNode node = SimNode.builder(dir).name(name).flags(SimCluster.commonFlags()).start();
        resources.add(node);
        return node;
    }

    /** {@code epdctl proxy} in its own working directory {@code runDir}, as {@code up} starts it; returns once it is ready. */
    private Process proxy(Path runDir, int port, SimNode backend) throws Exception {
        Files.createDirectories(runDir);
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.epdctl.cli.Main", "proxy", "--host", "127.0.0.1",
                "--port", String.valueOf(port), "--pd-hosts", "127.0.0.1", "--pd-ports", String.valueOf(backend.port()),
                // Not shorter: a probe may take as long as the interval, and one that times out on a loaded machine
                // takes its backend out (with 0.2 s, a CI run lost the only healthy PD mid-replacement: 503s).
                "--health-interval", "1");
        Process process = new ProcessBuilder(command).directory(runDir.toFile()).redirectErrorStream(true)
                .redirectOutput(runDir.resolve("proxy.log").toFile()).start();
        resources.add(() -> {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        });
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!Files.readString(runDir.resolve("proxy.log")).contains("ready on")) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("the proxy did not start: " + Files.readString(runDir.resolve("proxy.log")));
            }
            Thread.sleep(20);
        }
        return process;
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh"})
    void replacesABackendOfARunningProxyUnderLoadWithoutOneFailedRequest(String kind) throws Exception {
        SimNode pd0 = pd("pd0");
        SimNode pd1 = pd("pd1");
        int port = SimNode.freePort();
        Path runDir = dir.resolve("run");
        Process process = proxy(runDir, port, pd0);
        Transport transport = transport(kind);

        List<HttpResponse<String>> answers = new CopyOnWriteArrayList<>();
        List<Throwable> broken = new CopyOnWriteArrayList<>();
        AtomicBoolean running = new AtomicBoolean(true);
        List<Thread> clients = new ArrayList<>();
        try (ProxyControl control = ProxyControl.open(transport, runDir.toString())) {
            assertThat(control.list()).containsExactly(new ProxyControl.Backend(Role.PD, "127.0.0.1", pd0.port(), false, true, 0, null));
            for (int i = 0; i < 3; i++) {
                Thread client = new Thread(() -> {
                    while (running.get()) {
                        try {
                            answers.add(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                                    + "/v1/chat/completions")).header("Content-Type", "application/json")
                                    .POST(HttpRequest.BodyPublishers.ofString(CHAT)).build(), HttpResponse.BodyHandlers.ofString()));
                        } catch (Exception e) {
                            broken.add(e);
                        }
                    }
                });
                client.start();
                clients.add(client);
            }
            awaitAnswers(answers, 5);

            ProxyControl.Backend added = control.add(Role.PD, "127.0.0.1", pd1.port());
            assertThat(added.port()).isEqualTo(pd1.port());
            // the first probe's verdict comes with the answer; a slow one (a loaded machine) is not the last word
            assertThat(control.awaitHealthy(Role.PD, "127.0.0.1", pd1.port(), Duration.ofSeconds(30)).healthy()).isTrue();
            awaitAnswers(answers, answers.size() + 5);
            ProxyControl.Drained drained = control.drain(Role.PD, "127.0.0.1", pd0.port(), Duration.ofSeconds(60));
            assertThat(drained.drained()).isTrue();
            assertThat(drained.inFlight()).isZero();
            assertThat(drained.backend().draining()).isTrue();
            assertThat(control.remove(Role.PD, "127.0.0.1", pd0.port()).port()).isEqualTo(pd0.port());
            pd0.close(); // stopped only once removed: the load goes on through pd1
            awaitAnswers(answers, answers.size() + 5);
            assertThat(control.list()).extracting(ProxyControl.Backend::port).containsExactly(pd1.port());
            assertThatThrownBy(() -> control.remove(Role.PD, "127.0.0.1", pd0.port()))
                    .isInstanceOf(DeploymentException.class).hasMessageContaining("404 no pd backend 127.0.0.1:" + pd0.port());

            // the control port answers nobody without the token, through the same way
            ControlFile access = ControlFile.parse(Files.readString(runDir.resolve(ControlFile.NAME)));
            try (Tunnel tunnel = transport.tunnel(access.port())) {
                HttpResponse<String> anonymous = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + tunnel.localPort() + "/backends")).GET().build(), HttpResponse.BodyHandlers.ofString());
                assertThat(anonymous.statusCode()).isEqualTo(401);
            }
        } finally {
            running.set(false);
            for (Thread client : clients) {
                client.join();
            }
        }
        assertThat(broken).isEmpty();
        assertThat(answers).allSatisfy(answer -> {
            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
            assertThat(answer.body()).endsWith("data: [DONE]\n\n");
        });
        assertThat(Files.readString(runDir.resolve("proxy.log"))).doesNotContain(
                ControlFile.parse(Files.readString(runDir.resolve(ControlFile.NAME))).token());

        process.destroy();
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(runDir.resolve(ControlFile.NAME)).as("removed when the proxy stops").doesNotExist();
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh"})
    void saysWhenNoBackendIsThereToWaitFor(String kind) throws Exception {
        SimNode pd0 = pd("pd0");
        Path runDir = dir.resolve("run");
        proxy(runDir, SimNode.freePort(), pd0);
        try (ProxyControl control = ProxyControl.open(transport(kind), runDir.toString())) {
            assertThatThrownBy(() -> control.awaitHealthy(Role.PD, "127.0.0.1", 1, Duration.ofSeconds(5)))
                    .isInstanceOf(DeploymentException.class).hasMessageContaining("the proxy has no pd backend 127.0.0.1:1");
            assertThatThrownBy(() -> control.add(Role.DECODE, "127.0.0.1", 1))
                    .isInstanceOf(DeploymentException.class).hasMessageContaining("400 this proxy routes to pd backends");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "ssh"})
    void saysWhenNoProxyRunsThere(String kind) throws Exception {
        Transport transport = transport(kind);

        assertThatThrownBy(() -> ProxyControl.open(transport, dir.toString()))
                .isInstanceOf(DeploymentException.class)
                .hasMessageContaining("the proxy's control file " + dir + "/proxy.control cannot be read (is the built-in proxy running?)");
    }

    private static void awaitAnswers(List<HttpResponse<String>> answers, int count) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (answers.size() < count) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("only " + answers.size() + " answers, waited for " + count);
            }
            Thread.sleep(5);
        }
    }
}
