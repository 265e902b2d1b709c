package io.epdctl.render;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node over several hosts renders as the vLLM-Ascend multi-node DP tests run it
 * (tests/e2e/nightly/multi_node/config/Qwen3-235B-A22B.yaml: the first host {@code --data-parallel-size N
 * --data-parallel-size-local L --data-parallel-address ITS_IP --data-parallel-rpc-port P}, the others {@code --headless
 * ... --data-parallel-start-rank R --data-parallel-address FIRST_IP} and no {@code --port}); only the first is a proxy
 * backend.
 */
class DataParallelRenderTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static final String TOPOLOGY = """
            name: dp
            model: /models/m
            served-model-name: m
            hosts:
              head: {address: 10.0.0.1, transport: local}
              npu-a: {address: 10.0.0.2, npus: 16}
              npu-b: {address: 10.0.0.3, npus: 16}
              npu-c: {address: 10.0.0.4, npus: 16}
            ec-transfer: {shared-storage-path: /data/ec}
            kv-transfer: {kv-port: 50001}
            nodes:
              - {name: e0, role: encoder, host: head, devices: [0], port: 23001}
              - {name: p0, role: prefill, host: head, devices: [1, 2, 3, 4, 5, 6, 7, 8], port: 33003,
                 tensor-parallel-size: 2, data-parallel-size: 4}
              - name: d0
                role: decode
                port: 33006
                tensor-parallel-size: 2
                data-parallel-rpc-port: 13389
                hosts:
                  - {host: npu-a, devices: [0, 1, 2, 3]}
                  - {host: npu-b, devices: [8, 9]}
                  - {host: npu-c, devices: [0, 1]}
            proxy: {host: head, port: 8001}
            """;

    @Test
    void theFirstHostLeadsAndTheOthersRunHeadlessFromTheirStartRank() throws Exception {
        Path file = Files.writeString(dir.resolve("dp.yaml"), TOPOLOGY);

        Cli.Result result = Cli.run("render", "--format", "json", file.toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        JsonNode deployment = JSON.readTree(result.out());
        List<String> names = new ArrayList<>();
        deployment.path("nodes").forEach(node -> names.add(node.path("name").asText()));
        assertThat(names).containsExactly("e0", "p0", "d0", "d0-dp2", "d0-dp3");
        String kv = "{\"kv_connector\":\"MooncakeLayerwiseConnector\",\"kv_role\":\"kv_consumer\",\"kv_port\":50001,\"engine_id\":\"1\","
                + "\"kv_connector_extra_config\":{\"prefill\":{\"dp_size\":4,\"tp_size\":2},\"decode\":{\"dp_size\":4,\"tp_size\":2}}}";
        JsonNode leader = node(deployment, "d0");
        assertThat(argv(leader)).containsExactly("vllm", "serve", "/models/m", "--port", "33006", "--served-model-name", "m",
                "--tensor-parallel-size", "2", "--data-parallel-size", "4", "--data-parallel-size-local", "2",
                "--data-parallel-address", "10.0.0.2", "--data-parallel-rpc-port", "13389",
                "--gpu-memory-utilization", "0.7", "--enable-request-id-headers", "--kv-transfer-config", kv);
        assertThat(leader.path("host").asText()).isEqualTo("npu-a");
        assertThat(leader.path("env").path("ASCEND_RT_VISIBLE_DEVICES").asText()).isEqualTo("0,1,2,3");
        assertThat(leader.path("listeners").toString()).isEqualTo("[{\"kind\":\"HTTP\",\"first\":33006,\"last\":33006},"
                + "{\"kind\":\"DP_RPC\",\"first\":13389,\"last\":13389},{\"kind\":\"KV\",\"first\":50001,\"last\":50004}]");

        JsonNode second = node(deployment, "d0-dp2");
        assertThat(argv(second)).containsExactly("vllm", "serve", "/models/m", "--headless", "--served-model-name", "m",
                "--tensor-parallel-size", "2", "--data-parallel-size", "4", "--data-parallel-size-local", "1",
                "--data-parallel-start-rank", "2", "--data-parallel-address", "10.0.0.2", "--data-parallel-rpc-port", "13389",
                "--gpu-memory-utilization", "0.7", "--enable-request-id-headers", "--kv-transfer-config", kv);
        assertThat(second.path("host").asText()).isEqualTo("npu-b");
        assertThat(second.path("port").asInt()).as("no HTTP").isZero();
        assertThat(second.path("env").path("ASCEND_RT_VISIBLE_DEVICES").asText()).isEqualTo("8,9");
        assertThat(second.path("env").path("VLLM_HOST_IP").asText()).as("its own host's address").isEqualTo("10.0.0.3");
        assertThat(second.path("listeners").toString()).as("the KV ports of ranks 2 (tp 0, 1)")
                .isEqualTo("[{\"kind\":\"KV\",\"first\":50005,\"last\":50006}]");
        JsonNode third = node(deployment, "d0-dp3");
        assertThat(argv(third)).containsSubsequence("--data-parallel-start-rank", "3");
        assertThat(third.path("listeners").toString()).isEqualTo("[{\"kind\":\"KV\",\"first\":50007,\"last\":50008}]");

        List<String> proxy = argv(deployment.path("proxy"));
        int decoders = proxy.indexOf("--decoder-hosts");
        assertThat(proxy.subList(decoders, decoders + 4)).as("only the first host serves")
                .containsExactly("--decoder-hosts", "10.0.0.2", "--decoder-ports", "33006");
    }

    @Test
    void theScriptsOfEveryHostAreWritten() throws Exception {
        Path file = Files.writeString(dir.resolve("dp.yaml"), TOPOLOGY);

        Cli.Result result = Cli.run("render", "-o", dir.resolve("out").toString(), file.toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(Files.readString(dir.resolve("out/d0-dp3.sh"))).contains("--headless \\", "on host npu-c")
                .doesNotContain("--port");
    }

    private static final String EXTERNAL = """
            name: ext
            model: /models/m
            served-model-name: m
            hosts:
              head: {address: 10.0.0.1, transport: local}
              npu-a: {address: 10.0.0.2, npus: 16}
              npu-b: {address: 10.0.0.3, npus: 16}
            ec-transfer: {shared-storage-path: /data/ec}
            kv-transfer: {kv-port: 50001}
            nodes:
              - {name: e0, role: encoder, host: head, devices: [0], port: 23001}
              - {name: p0, role: prefill, host: head, devices: [1, 2, 3, 4], port: 33003, tensor-parallel-size: 2,
                 data-parallel-size: 2, data-parallel-mode: external, data-parallel-rpc-port: 13390}
              - name: d0
                role: decode
                port: 33006
                tensor-parallel-size: 2
                data-parallel-mode: external
                data-parallel-rpc-port: 13389
                hosts:
                  - {host: npu-a, devices: [0, 1]}
                  - {host: npu-b, devices: [8, 9]}
            proxy: {host: head, port: 8001}
            """;

    /**
     * External data parallelism renders as vLLM-Ascend's examples/external_online_dp/launch_online_dp.py starts it: one
     * {@code vllm serve} per rank, {@code --data-parallel-size N --data-parallel-rank R --data-parallel-address
     * RANK0_IP --data-parallel-rpc-port P} and its own {@code --port}, tp NPUs each; every rank a backend of the proxy.
     */
    @Test
    void externalDataParallelismIsOneProcessAndBackendPerRank() throws Exception {
        Path file = Files.writeString(dir.resolve("ext.yaml"), EXTERNAL);

        Cli.Result result = Cli.run("render", "--format", "json", file.toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        JsonNode deployment = JSON.readTree(result.out());
        List<String> names = new ArrayList<>();
        deployment.path("nodes").forEach(node -> names.add(node.path("name").asText()));
        assertThat(names).containsExactly("e0", "p0", "p0-dp1", "d0", "d0-dp1");
        JsonNode p1 = node(deployment, "p0-dp1");
        assertThat(argv(p1).subList(0, 13)).containsExactly("vllm", "serve", "/models/m", "--port", "33004", "--served-model-name", "m",
                "--tensor-parallel-size", "2", "--data-parallel-size", "2", "--data-parallel-rank", "1");
        assertThat(argv(p1)).containsSubsequence("--data-parallel-address", "10.0.0.1", "--data-parallel-rpc-port", "13390")
                .doesNotContain("--headless", "--data-parallel-size-local");
        assertThat(p1.path("env").path("ASCEND_RT_VISIBLE_DEVICES").asText()).isEqualTo("3,4");
        JsonNode d0 = node(deployment, "d0");
        assertThat(argv(d0)).containsSubsequence("--port", "33006", "--data-parallel-rank", "0", "--data-parallel-address", "10.0.0.2");
        assertThat(d0.path("listeners").toString()).isEqualTo("[{\"kind\":\"HTTP\",\"first\":33006,\"last\":33006},"
                + "{\"kind\":\"DP_RPC\",\"first\":13389,\"last\":13389},{\"kind\":\"KV\",\"first\":50001,\"last\":50002}]");
        JsonNode d1 = node(deployment, "d0-dp1");
        assertThat(d1.path("host").asText()).isEqualTo("npu-b");
        assertThat(d1.path("listeners").toString()).as("rank 1's own port and KV ports").isEqualTo(
                "[{\"kind\":\"HTTP\",\"first\":33007,\"last\":33007},{\"kind\":\"KV\",\"first\":50003,\"last\":50004}]");
        assertThat(argv(d1)).anySatisfy(arg -> assertThat(arg).contains("\"kv_port\":50001")); // each rank adds its rank * tp

        List<String> proxy = argv(deployment.path("proxy"));
        int prefillers = proxy.indexOf("--prefiller-hosts");
        assertThat(proxy.subList(prefillers, prefillers + 6))
                .containsExactly("--prefiller-hosts", "10.0.0.1", "10.0.0.1", "--prefiller-ports", "33003", "33004");
        int decoders = proxy.indexOf("--decoder-hosts");
        assertThat(proxy.subList(decoders, decoders + 6))
                .containsExactly("--decoder-hosts", "10.0.0.2", "10.0.0.3", "--decoder-ports", "33006", "33007");
    }

    private static JsonNode node(JsonNode deployment, String name) {
        for (JsonNode node : deployment.path("nodes")) {
            if (node.path("name").asText().equals(name)) {
                return node;
            }
        }
        throw new AssertionError("no node " + name);
    }

    private static List<String> argv(JsonNode node) {
        List<String> argv = new ArrayList<>();
        node.path("argv").forEach(arg -> argv.add(arg.asText()));
        return argv;
    }
}
