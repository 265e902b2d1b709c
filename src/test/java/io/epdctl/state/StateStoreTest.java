package io.epdctl.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.epdctl.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateStoreTest {
    /** A state file exactly as epdctl wrote it before state files had a format (its hosts were topology hosts). */
    private static final String FORMAT_1 = """
            {
              "deployment" : "demo",
              "topologyFile" : "/t.yaml",
              "servedModelName" : "qwenvl",
              "ecDirectory" : "/data/ec",
              "hosts" : {
                "local" : {
                  "name" : "local",
                  "address" : "127.0.0.1",
                  "transport" : "LOCAL",
                  "user" : null,
                  "sshPort" : null,
                  "identityFile" : null,
                  "npus" : null
                },
                "npu-a" : {
                  "name" : "npu-a",
                  "address" : "192.0.2.10",
                  "transport" : "SSH",
                  "user" : "deploy",
                  "sshPort" : 2222,
                  "identityFile" : "/home/op/.ssh/id_ed25519",
                  "npus" : 8
                }
              },
              "processes" : [ {
                "name" : "e0",
                "role" : "encoder",
                "host" : "local",
                "address" : "127.0.0.1",
                "port" : 23001,
                "devices" : [ 0 ],
                "extraPorts" : [ ],
                "processGroup" : 4242,
                "startTicks" : "123456",
                "startedAt" : "2026-11-24T10:00:00Z",
                "directory" : "/root/.epdctl/demo/run",
                "specHash" : "abc"
              }, {
                "name" : "d0",
                "role" : "decode",
                "host" : "npu-a",
                "address" : "192.0.2.10",
                "port" : 33006,
                "devices" : [ 4, 5 ],
                "extraPorts" : [ 50001, 50002 ],
                "processGroup" : 0,
                "startTicks" : "",
                "startedAt" : null,
                "directory" : ".epdctl/run/demo",
                "specHash" : "def"
              } ],
              "updatedAt" : "2026-11-24T10:00:01Z"
            }
            """;

    @TempDir
    Path root;

    private static final HostRecord LOCAL = new HostRecord("local", "127.0.0.1", true, null, null, null);
    private static final HostRecord NPU_A = new HostRecord("npu-a", "192.0.2.10", false, "deploy", 2222, "/home/op/.ssh/id_ed25519");
    private static final ProcessRecord E0 = new ProcessRecord("e0", "encoder", "local", "127.0.0.1", 23001, List.of(0), List.of(),
            4242, "123456", Instant.parse("2026-11-24T10:00:00Z"), "/root/.epdctl/demo/run", "abc", null, null);
    private static final ProcessRecord D0 = new ProcessRecord("d0", "decode", "npu-a", "192.0.2.10", 33006, List.of(4, 5),
            List.of(50001, 50002), 0, "", null, ".epdctl/run/demo", "def", null, null);

    private static DeploymentState state() {
        Map<String, HostRecord> hosts = new LinkedHashMap<>();
        hosts.put("local", LOCAL);
        hosts.put("npu-a", NPU_A);
        return new DeploymentState("demo", "/t.yaml", "qwenvl", "/data/ec", hosts, List.of(E0, D0),
                Instant.parse("2026-11-24T10:00:01Z"));
    }

    private Path stateFile() throws Exception {
        return Files.createDirectories(root.resolve("demo")).resolve("state.json");
    }

    @Test
    void writesAndReadsBackTheSameState() throws Exception {
        StateStore store = new StateStore(root);

        store.write(state());

        assertThat(store.read("demo")).contains(state());
        assertThat(store.deployments()).containsExactly("demo");
        try (var files = Files.list(root.resolve("demo"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("state.json");
        }
        store.delete("demo");
        assertThat(store.read("demo")).isEmpty();
        assertThat(store.deployments()).isEmpty();
    }

    @Test
    void theFileSaysItsFormatFirstAndKeepsItsOwnHostRecords() throws Exception {
        new StateStore(root).write(state());

        String text = Files.readString(stateFile());
        JsonNode file = new ObjectMapper().readTree(text);

        assertThat(file.fieldNames().next()).isEqualTo("format");
        assertThat(file.get("format").asInt()).isEqualTo(3);
        assertThat(file.get("hosts").get("npu-a").toString()).isEqualTo("{\"name\":\"npu-a\",\"address\":\"192.0.2.10\","
                + "\"local\":false,\"user\":\"deploy\",\"sshPort\":2222,\"identityFile\":\"/home/op/.ssh/id_ed25519\"}");
    }

    @Test
    void aProcessSpecIsWrittenAndReadBackAndAFormat2FileReadsWithoutOne() throws Exception {
        StateStore store = new StateStore(root);
        ProcessSpec spec = new ProcessSpec(List.of("vllm", "serve", "/m", "--api-key", "***"), Map.of("HF_TOKEN", "9f86d081884c7d65"),
                List.of("source /opt/env.sh"), List.of(0), "local", "127.0.0.1", "/root/.epdctl/demo/run", null);
        ProcessRecord withSpec = new ProcessRecord("e0", "encoder", "local", "127.0.0.1", 23001, List.of(0), List.of(),
                4242, "123456", Instant.parse("2026-11-24T10:00:00Z"), "/root/.epdctl/demo/run", "abc", spec, null);
        DeploymentState state = new DeploymentState("demo", "/t.yaml", "qwenvl", "/data/ec", Map.of("local", LOCAL),
                List.of(withSpec), Instant.parse("2026-11-24T10:00:01Z"));
        store.write(state);
        assertThat(store.read("demo")).contains(state);

        ObjectNode format2 = (ObjectNode) new ObjectMapper().readTree(stateFile().toFile());
        format2.put("format", 2);
        ((ObjectNode) format2.get("processes").get(0)).remove("spec");
        Files.writeString(stateFile(), format2.toString());
        assertThat(store.read("demo").orElseThrow().processes().get(0).spec()).isNull();
        assertThat(store.read("demo").orElseThrow().processes().get(0).specHash()).isEqualTo("abc");
    }

    @Test
    void aReplacedRecordKeepsItsPlaceAndOrderedPutsNamedProcessesFirst() {
        ProcessRecord restarted = E0.started(5151, "9", Instant.parse("2026-11-24T11:00:00Z"));

        assertThat(state().with(restarted).processes()).containsExactly(restarted, D0);
        assertThat(state().ordered(List.of("d0")).processes()).containsExactly(D0, E0);
        assertThat(state().ordered(List.of("d0", "gone", "e0")).processes()).containsExactly(D0, E0);
    }

    @Test
    void aFileWithoutFormatIsReadAsFormat1AndWrittenBackAsTheCurrentOne() throws Exception {
        Files.writeString(stateFile(), FORMAT_1);
        StateStore store = new StateStore(root);

        DeploymentState read = store.read("demo").orElseThrow();

        assertThat(read).isEqualTo(state());
        assertThat(Files.readString(stateFile())).as("reading changes nothing on disk").isEqualTo(FORMAT_1);
        store.write(read.without("e0"));
        assertThat(new ObjectMapper().readTree(stateFile().toFile()).get("format").asInt()).isEqualTo(3);
        assertThat(store.read("demo").orElseThrow().processes()).containsExactly(D0);
    }

    @Test
    void aNewerFormatIsRefusedAndLeftAlone() throws Exception {
        String newer = FORMAT_1.replaceFirst("\\{", "{\n  \"format\" : 4,\n  \"replicas\" : {},");
        Files.writeString(stateFile(), newer);

        assertThatThrownBy(() -> new StateStore(root).read("demo"))
                .isInstanceOf(StateFormatException.class)
                .hasMessage(stateFile() + " has state format 4, newer than this epdctl reads (3): it was written by a newer "
                        + "epdctl; run that one (its `down` stops the deployment)");
        assertThat(Files.readString(stateFile())).isEqualTo(newer);
    }

    @Test
    void anUnknownFormatIsRefused() throws Exception {
        Files.writeString(stateFile(), "{\"format\": \"two\", \"deployment\": \"demo\"}");

        assertThatThrownBy(() -> new StateStore(root).read("demo"))
                .isInstanceOf(StateFormatException.class)
                .hasMessage(stateFile() + " has an unknown state format \"two\"; it was not written by epdctl: "
                        + "move it away (or remove it) once nothing of the deployment runs");
    }

    @Test
    void aFileWithoutFormatThatIsNoFormat1FileIsRefused() throws Exception {
        Files.writeString(stateFile(), FORMAT_1.replace("\"transport\" : \"SSH\"", "\"transport\" : \"SCP\""));

        assertThatThrownBy(() -> new StateStore(root).read("demo"))
                .isInstanceOf(StateFormatException.class)
                .hasMessage(stateFile() + " has no format version, as epdctl's state files before format 2, but cannot be "
                        + "read as one (host npu-a has no transport LOCAL or SSH): move it away (or remove it) once nothing "
                        + "of the deployment runs");
        Files.writeString(stateFile(), "[1, 2]");
        assertThatThrownBy(() -> new StateStore(root).read("demo"))
                .isInstanceOf(StateFormatException.class)
                .hasMessageStartingWith(stateFile() + " is not an epdctl state file (no JSON object)");
    }

    @Test
    void theCommandsNameTheRefusedFile() throws Exception {
        Files.writeString(stateFile(), FORMAT_1.replaceFirst("\\{", "{\n  \"format\" : 7,"));

        for (String command : List.of("status", "down", "logs")) {
            Cli.Result result = command.equals("logs")
                    ? Cli.run("logs", "e0", "-d", "demo", "--state-dir", root.toString())
                    : Cli.run(command, "demo", "--state-dir", root.toString());
            assertThat(result.exitCode()).as(result.toString()).isEqualTo(1);
            assertThat(result.err()).as(command).contains(stateFile() + " has state format 7, newer than this epdctl reads (3)");
        }
    }

    @Test
    void aHeldLockIsRefusedWithItsHolder() throws Exception {
        StateStore store = new StateStore(root);

        try (StateStore.DeploymentLock held = store.lock("demo")) {
            assertThatThrownBy(() -> store.lock("demo"))
                    .isInstanceOf(StateStore.LockedException.class)
                    .hasMessage("deployment demo is being changed by another epdctl (pid "
                            + ProcessHandle.current().pid() + "); wait for it to finish");
        }
        try (StateStore.DeploymentLock again = store.lock("demo")) {
            assertThat(again).isNotNull();
        }
    }

    @Test
    void downOfADeploymentThatDoesNotExistLeavesNoDirectory() throws Exception {
        Cli.Result down = Cli.run("down", "nosuch", "--state-dir", root.toString());

        assertThat(down.exitCode()).as(down.toString()).isZero();
        assertThat(down.err()).contains("deployment nosuch is not recorded; nothing to stop");
        assertThat(root.resolve("nosuch")).doesNotExist();
    }
}
