package io.epdctl.sim;

import static io.epdctl.sim.Http.get;
import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.SimNode;
import io.epdctl.testing.SystemTest;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Startup, startup failures, the engine child and shutdown of real simulator processes. */
@SystemTest
class SimLifecycleTest {
    private static final Duration EXIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void unknownFlagsFailBeforeListeningAsArgparseDoes() {
        try (SimNode node = SimNode.builder(dir).flags("--bogus-flag", "1").launch()) {
            assertThat(node.awaitExit(EXIT)).isEqualTo(2);
            assertThat(node.log()).contains("usage: vllm serve", "vllm serve: error: unrecognized arguments: --bogus-flag 1")
                    .doesNotContain("Application startup complete").doesNotContain("EngineCore started");
        }
    }

    @Test
    void malformedTransferConfigFailsWithTheArgumentNamed() {
        try (SimNode node = SimNode.builder(dir).flags("--kv-transfer-config", "{\"kv_role\":").launch()) {
            assertThat(node.awaitExit(EXIT)).isEqualTo(2);
            assertThat(node.log()).contains("vllm serve: error: argument --kv-transfer-config: JSONDecodeError");
        }
    }

    @Test
    void refusesEmptyOrMalformedDeviceLists() {
        for (String devices : List.of("", "0,,1", "npu0")) {
            try (SimNode node = SimNode.builder(dir).name("dev" + devices.length())
                    .env("ASCEND_RT_VISIBLE_DEVICES", devices).launch()) {
                assertThat(node.awaitExit(EXIT)).as(devices).isEqualTo(1);
                assertThat(node.log()).contains("ASCEND_RT_VISIBLE_DEVICES='" + devices + "'",
                        "Engine core initialization failed", "Traceback (most recent call last)");
                assertThat(node.descendantsSeen()).noneMatch(ProcessHandle::isAlive);
            }
        }
    }

    @Test
    void recordsItsDevices() {
        try (SimNode node = SimNode.builder(dir).env("ASCEND_RT_VISIBLE_DEVICES", "3,5").flags("-tp", "2").start()) {
            assertThat(node.log()).contains("Using NPUs 3,5 (ASCEND_RT_VISIBLE_DEVICES)");
        }
        try (SimNode node = SimNode.builder(dir).name("few").env("ASCEND_RT_VISIBLE_DEVICES", "3")
                .flags("-tp", "2").launch()) {
            assertThat(node.awaitExit(EXIT)).isEqualTo(1);
            assertThat(node.log()).contains("2 NPUs needed");
        }
    }

    @Test
    void crashOnStartupPrintsAFatalErrorAndExitsNonZero() {
        try (SimNode node = SimNode.builder(dir).env("VLLM_SIM_CRASH_ON_STARTUP", "1").launch()) {
            assertThat(node.awaitExit(EXIT)).isEqualTo(1);
            assertThat(node.log()).contains("RuntimeError: Engine core initialization failed", "out of memory")
                    .doesNotContain("Application startup complete");
            assertThat(node.descendantsSeen()).noneMatch(ProcessHandle::isAlive);
        }
    }

    @Test
    void engineConfigurationErrorsFailStartup() {
        String mismatch = "{\"kv_connector\":\"MooncakeLayerwiseConnector\",\"kv_role\":\"kv_producer\","
                + "\"kv_connector_extra_config\":{\"prefill\":{\"dp_size\":1,\"tp_size\":2},\"decode\":{\"dp_size\":1,\"tp_size\":1}}}";
        String oldConnector = "{\"ec_connector\":\"ECSharedStorageConnector\",\"ec_role\":\"ec_producer\"}";
        try (SimNode tp = SimNode.builder(dir).name("tp").flags("--kv-transfer-config", mismatch).launch();
                SimNode ec = SimNode.builder(dir).name("ec").flags("--ec-transfer-config", oldConnector).launch()) {
            assertThat(tp.awaitExit(EXIT)).isEqualTo(1);
            assertThat(tp.log()).contains("kv_connector_extra_config.prefill says dp_size=1, tp_size=2");
            assertThat(ec.awaitExit(EXIT)).isEqualTo(1);
            assertThat(ec.log()).contains("ValueError: Unsupported connector type: ECSharedStorageConnector");
        }
    }

    @Test
    void aTakenKvPortFailsTheDecodeInstance() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            String kv = "{\"kv_connector\":\"MooncakeLayerwiseConnector\",\"kv_role\":\"kv_consumer\",\"kv_port\":"
                    + taken.getLocalPort() + "}";
            try (SimNode node = SimNode.builder(dir).flags("--kv-transfer-config", kv).launch()) {
                assertThat(node.awaitExit(EXIT)).isEqualTo(1);
                assertThat(node.log()).contains("zmq.error.ZMQError: Address already in use");
            }
        }
    }

    @Test
    void aTakenHttpPortFailsStartup() throws IOException {
        try (ServerSocket taken = new ServerSocket(0)) {
            try (SimNode node = SimNode.builder(dir).port(taken.getLocalPort()).launch()) {
                assertThat(node.awaitExit(EXIT)).isEqualTo(1);
                assertThat(node.log()).contains("OSError: [Errno 98] Address already in use");
            }
        }
    }

    @Test
    void thePortRefusesConnectionsWhileLoading() throws Exception {
        try (SimNode node = SimNode.builder(dir).env("VLLM_SIM_STARTUP_DELAY_MS", "5000").launch()) {
            while (!node.log().contains("Loading weights")) {
                assertThat(node.process().isAlive()).as(node.log()).isTrue();
                Thread.sleep(20);
            }
            boolean refused = refuses(node.port());
            // the "loaded" line comes before the bind: while it is absent, nothing may have listened
            assertThat(node.log()).doesNotContain("Model loading took");
            assertThat(refused).isTrue();
            node.awaitReady();
            assertThat(get(node.baseUrl() + "/health").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void runsAnEngineChildInItsProcessGroupAndStopsItOnSigterm() throws Exception {
        try (SimNode node = SimNode.builder(dir).start()) {
            Set<ProcessHandle> engine = node.descendantsSeen();
            assertThat(engine).hasSize(1).allMatch(ProcessHandle::isAlive);
            ProcessHandle child = engine.iterator().next();
            assertThat(processGroup(child.pid())).isEqualTo(processGroup(node.pid()));

            node.process().toHandle().destroy(); // SIGTERM
            assertThat(node.awaitExit(EXIT)).isNotEqualTo(137);
            child.onExit().get();
            assertThat(child.isAlive()).isFalse();
            assertThat(node.log()).contains("Application shutdown complete.");
        }
    }

    @Test
    void sigkillLeavesTheEngineChildBehindAsARealCrashWould() throws Exception {
        ProcessHandle child;
        try (SimNode node = SimNode.builder(dir).start()) {
            child = node.descendantsSeen().iterator().next();
            node.process().destroyForcibly();
            node.awaitExit(EXIT);
            assertThat(child.isAlive()).as("the engine child survives its parent's SIGKILL").isTrue();
            assertThat(ProcessHandle.allProcesses().anyMatch(p -> p.pid() == child.pid())).isTrue();
        }
        assertThat(child.isAlive()).as("the fixture's close() kills it").isFalse();
    }

    @Test
    void canBeToldToIgnoreSigterm() throws Exception {
        ProcessHandle simulator;
        try (SimNode node = SimNode.builder(dir).env("VLLM_SIM_IGNORE_SIGTERM", "1").start()) {
            simulator = node.process().toHandle();
            int status = runKill("-TERM", node.pid());
            assertThat(status).isZero();
            // an ignored signal is discarded when sent, so the answer below comes after it
            assertThat(get(node.baseUrl() + "/health").statusCode()).isEqualTo(200);
            assertThat(node.process().isAlive()).isTrue();
            assertThat(node.log()).doesNotContain("Shutting down");
        }
        assertThat(simulator.isAlive()).isFalse();
    }

    private static boolean refuses(int port) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            return false;
        } catch (ConnectException e) {
            return true;
        }
    }

    private static String processGroup(long pid) throws Exception {
        Process ps = new ProcessBuilder("ps", "-o", "pgid=", "-p", Long.toString(pid)).start();
        String out = new String(ps.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(ps.waitFor()).isZero();
        return out;
    }

    private static int runKill(String signal, long pid) throws Exception {
        List<String> command = new ArrayList<>(List.of("kill", signal, Long.toString(pid)));
        return new ProcessBuilder(command).inheritIO().start().waitFor();
    }
}
