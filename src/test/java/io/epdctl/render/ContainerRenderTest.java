package io.epdctl.render;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** What a node of runtime: docker renders to: the docker run of its container, through the real command line. */
class ContainerRenderTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static final String TOPOLOGY = """
            name: dk
            model: /models/qwen
            served-model-name: qwenvl
            hosts:
              local: {address: 192.0.2.9, transport: local}
              npu-a: {address: 192.0.2.10, npus: 8, runtime: docker, docker: {command: podman}}
            vllm:
              image: quay.io/ascend/vllm-ascend:v0.11.0
              env: {HF_TOKEN: s3cr3t-value, OMP_NUM_THREADS: 10}
              setup: ["source /usr/local/Ascend/ascend-toolkit/set_env.sh"]
            ec-transfer: {shared-storage-path: /data/ec_cache}
            kv-transfer: {kv-port: 50001}
            nodes:
              - {name: e0, role: encoder, host: local, devices: [5, 4], tensor-parallel-size: 2, port: 23001, runtime: docker, docker: {args: [--shm-size=16g]}}
              - {name: p0, role: prefill, host: local, devices: [1], port: 33003}
              - {name: d0, role: decode, host: npu-a, devices: [2], port: 33006}
            proxy: {host: local, port: 8001}
            """;

    private JsonNode rendered() throws Exception {
        Path file = Files.writeString(dir.resolve("t.yaml"), TOPOLOGY);
        Cli.Result result = Cli.run("render", file.toString(), "--format", "json");
        assertThat(result.exitCode()).as(result.toString()).isZero();
        return JSON.readTree(result.out());
    }

    private static JsonNode node(JsonNode rendered, String name) {
        for (JsonNode node : rendered.path("nodes")) {
            if (node.path("name").asText().equals(name)) {
                return node;
            }
        }
        throw new AssertionError(name + " not rendered: " + rendered);
    }

    private static List<String> words(JsonNode array) {
        List<String> words = new ArrayList<>();
        array.forEach(word -> words.add(word.asText()));
        return words;
    }

    /** The words following each occurrence of {@code flag}. */
    private static List<String> valuesOf(List<String> argv, String flag) {
        List<String> values = new ArrayList<>();
        for (int i = 0; i + 1 < argv.size(); i++) {
            if (argv.get(i).equals(flag)) {
                values.add(argv.get(i + 1));
            }
        }
        return values;
    }

    static Stream<Arguments> devices() {
        return Stream.of(
                Arguments.of("e0", List.of("/dev/davinci5", "/dev/davinci4", "/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"), "1,0"),
                Arguments.of("d0", List.of("/dev/davinci2", "/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"), "0"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void aContainerGetsExactlyItsNpusAndTheManagerDevicesNumberedAsItSeesThem(String name, List<String> devices, String visible)
            throws Exception {
        JsonNode node = node(rendered(), name);
        List<String> run = words(node.at("/container/runArgv"));

        assertThat(valuesOf(run, "--device")).containsExactlyElementsOf(devices);
        assertThat(node.at("/env/ASCEND_RT_VISIBLE_DEVICES").asText()).isEqualTo(visible);
        assertThat(node.at("/container/driverMounts").toString()).isEqualTo("[\"/usr/local/dcmi\","
                + "\"/usr/local/Ascend/driver/tools/hccn_tool\",\"/usr/local/bin/npu-smi\",\"/usr/local/Ascend/driver/lib64\","
                + "\"/usr/local/Ascend/driver/version.info\",\"/etc/ascend_install.info\",\"/etc/hccn.conf\"]");
    }

    @Test
    void theContainerRunsTheHostNodesArgvOnTheHostNetworkWithTheModelAndEcDirectoryAtTheirPaths() throws Exception {
        JsonNode rendered = rendered();
        JsonNode e0 = node(rendered, "e0");
        List<String> run = words(e0.at("/container/runArgv"));
        int image = e0.at("/container/imageAt").asInt();

        assertThat(run.subList(0, 5)).containsExactly("docker", "run", "-d", "--name", "epdctl-dk-e0");
        assertThat(run.get(image)).isEqualTo("quay.io/ascend/vllm-ascend:v0.11.0");
        assertThat(run).contains("--net=host", "--shm-size=16g").doesNotContain("--ipc=host");
        assertThat(valuesOf(run, "-v")).containsExactly("/models/qwen:/models/qwen:ro", "/data/ec_cache:/data/ec_cache");
        assertThat(valuesOf(run, "--label")).containsExactly("io.epdctl.deployment=dk", "io.epdctl.node=e0",
                "io.epdctl.spec=" + e0.at("/container/labels/io.epdctl.spec").asText());
        // The setup lines run in the container, then the very argv a host node gets.
        assertThat(run.subList(image + 1, image + 5)).containsExactly("bash", "-c",
                "source /usr/local/Ascend/ascend-toolkit/set_env.sh\nexec \"$@\"", "epdctl-setup");
        assertThat(run.subList(image + 5, run.size())).containsExactlyElementsOf(words(e0.path("argv")));
        assertThat(words(node(rendered, "p0").path("argv")).subList(0, 3)).containsExactly("vllm", "serve", "/models/qwen");

        JsonNode d0 = node(rendered, "d0");
        List<String> podman = words(d0.at("/container/runArgv"));
        assertThat(podman.get(0)).isEqualTo("podman");
        assertThat(podman).contains("--ipc=host");
        assertThat(valuesOf(podman, "-v")).as("decode has no EC directory").containsExactly("/models/qwen:/models/qwen:ro");
        // Derived from a routable host address: its interface is looked up on the host, and passed by name.
        assertThat(valuesOf(podman, "-e")).contains("VLLM_HOST_IP", "GLOO_SOCKET_IFNAME", "HCCL_SOCKET_IFNAME");
        assertThat(node(rendered, "p0").has("container")).as("a host process").isFalse();
    }

    @Test
    void secretsReachTheContainerByNameNeverOnItsCommandLine() throws Exception {
        JsonNode e0 = node(rendered(), "e0");
        List<String> run = words(e0.at("/container/runArgv"));

        assertThat(valuesOf(run, "-e")).contains("HF_TOKEN", "OMP_NUM_THREADS", "ASCEND_RT_VISIBLE_DEVICES");
        assertThat(String.join(" ", run)).doesNotContain("s3cr3t-value").doesNotContain("=10");

        Path file = Files.writeString(dir.resolve("t.yaml"), TOPOLOGY);
        Cli.Result script = Cli.run("render", file.toString());
        String e0Script = script.out().substring(script.out().indexOf("# ==> e0.sh <=="), script.out().indexOf("# ==> p0.sh <=="));
        assertThat(e0Script).contains("export HF_TOKEN='s3cr3t-value'");
        String runLines = e0Script.substring(e0Script.indexOf("\"$epd_docker\" run -d"));
        assertThat(runLines).doesNotContain("s3cr3t-value").contains("-e 'HF_TOKEN'");
        assertThat(e0Script).contains("stop -t 20 \"$epd_container\"", "trap epd_stop TERM INT",
                "\"$epd_docker\" logs -f \"$epd_container\" 2>&1 &", "\"$epd_docker\" wait \"$epd_container\" > /dev/null &",
                "--filter 'label=io.epdctl.deployment=dk' --filter 'label=io.epdctl.node=e0' | xargs -r \"$epd_docker\" rm -f");
    }

    @Test
    void renderOutputWritesTheScriptThatRunsTheContainer() throws Exception {
        Path file = Files.writeString(dir.resolve("t.yaml"), TOPOLOGY);
        Cli.Result result = Cli.run("render", file.toString(), "-o", dir.resolve("out").toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        String script = Files.readString(dir.resolve("out/e0.sh"));
        assertThat(script).startsWith("#!/usr/bin/env bash\n# encoder node e0 of EPD deployment dk, on host local, in a container.")
                .contains("\"$epd_docker\" run -d \"$@\"", "--device '/dev/davinci5'");
        assertThat(Files.isExecutable(dir.resolve("out/e0.sh"))).isTrue();
        assertThat(Files.readString(dir.resolve("out/p0.sh"))).contains("exec 'vllm' 'serve'").doesNotContain("epd_docker");
    }

    @Test
    void describeReadsTheDockerRunBackFromTheScript() throws Exception {
        JsonNode e0 = node(rendered(), "e0");
        Path file = Files.writeString(dir.resolve("t.yaml"), TOPOLOGY);
        Cli.run("render", file.toString(), "-o", dir.resolve("out").toString());

        io.epdctl.lifecycle.RenderedScript script = io.epdctl.lifecycle.RenderedScript.read(Files.readString(dir.resolve("out/e0.sh")));

        assertThat(script.argv()).containsExactlyElementsOf(words(e0.at("/container/runArgv")));
        assertThat(script.env()).containsEntry("HF_TOKEN", "s3cr3t-value").containsEntry("ASCEND_RT_VISIBLE_DEVICES", "1,0");
        // What collect runs before asking the command's version: never the removal of the node's container.
        assertThat(script.beforeCommand()).contains("mkdir -p -- '/data/ec_cache'").doesNotContain("epd_docker").doesNotContain("rm -f");
    }
}
