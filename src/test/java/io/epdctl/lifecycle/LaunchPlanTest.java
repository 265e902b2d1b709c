package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.render.DeploymentRenderer;
import io.epdctl.render.ScriptTemplates;
import io.epdctl.state.ProcessRecord;
import io.epdctl.topology.LoadResult;
import io.epdctl.topology.Topology;
import io.epdctl.topology.TopologyLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The plan of {@code up}: each process's record carries the ports and NPUs its launch was rendered with. */
class LaunchPlanTest {
    /** Two decode nodes on one SSH host, one with its own kv-port; nodes listed out of role order. */
    private static final String TOPOLOGY = """
            name: plan
            model: /models/qwen
            served-model-name: qwenvl
            hosts:
              here: {address: 10.0.0.1, transport: local}
              npu-b: {address: 192.0.2.3, npus: 16}
            ec-transfer: {shared-storage-path: /data/ec_cache}
            kv-transfer: {kv-port: 40000}
            nodes:
              - {name: d0, role: decode, host: npu-b, devices: [4, 5, 6, 7], port: 33006, tensor-parallel-size: 2,
                 data-parallel-size: 2}
              - {name: e0, role: encoder, host: here, devices: [0], port: 23001}
              - {name: d1, role: decode, host: npu-b, devices: [8, 9, 10, 11], port: 33007, tensor-parallel-size: 2,
                 data-parallel-size: 2, kv-port: 40004}
              - {name: p0, role: prefill, host: here, devices: [1, 2], port: 33003, tensor-parallel-size: 2}
            proxy: {host: here, port: 8001}
            """;

    @TempDir
    Path dir;

    @Test
    void recordsCarryTheRenderedListenersAndNpus() throws Exception {
        LoadResult loaded = TopologyLoader.load(Files.writeString(dir.resolve("plan.yaml"), TOPOLOGY));
        assertThat(loaded.errors()).isEmpty();
        Topology topology = loaded.topologyOrNull();

        LaunchPlan plan = LaunchPlan.of(new DeploymentRenderer(topology).render(), ScriptTemplates.builtIn(),
                new RunDirectories("plan", dir, ".epdctl/run", topology.hosts()));

        assertThat(plan.nodes()).extracting(LaunchPlan.Launch::name).containsExactly("d0", "e0", "d1", "p0");
        assertThat(plan.all()).extracting(launch -> launch.record().ports()).containsExactly(
                List.of(33006, 40000, 40001, 40002, 40003),
                List.of(23001),
                List.of(33007, 40004, 40005, 40006, 40007),
                List.of(33003),
                List.of(8001));
        assertThat(plan.all()).extracting(launch -> launch.record().devices()).containsExactly(
                List.of(4, 5, 6, 7), List.of(0), List.of(8, 9, 10, 11), List.of(1, 2), List.of());
        ProcessRecord d1 = plan.nodes().get(2).record();
        assertThat(d1.host()).isEqualTo("npu-b");
        assertThat(d1.address()).isEqualTo("192.0.2.3");
        assertThat(plan.nodes().get(1).record().address()).isEqualTo("10.0.0.1");
        assertThat(d1.directory()).isEqualTo(".epdctl/run/plan");
        assertThat(plan.nodes().get(1).record().directory()).isEqualTo(dir.resolve("plan/run").toString());
        assertThat(plan.nodes().get(2).script()).contains("\"kv_port\":40004");
        assertThat(plan.proxy().record().isProxy()).isTrue();
    }

    @Test
    void theRecordedSpecKeepsNoSecretValueNotEvenItsHash() throws Exception {
        String withSecrets = TOPOLOGY.replace("served-model-name: qwenvl", """
                served-model-name: qwenvl
                vllm: {env: {HF_TOKEN: hunter22, VLLM_LOGGING_LEVEL: DEBUG}, args: {api-key: sesame42}}""");
        LoadResult loaded = TopologyLoader.load(Files.writeString(dir.resolve("secret.yaml"), withSecrets));
        assertThat(loaded.errors()).isEmpty();
        Topology topology = loaded.topologyOrNull();

        LaunchPlan plan = LaunchPlan.of(new DeploymentRenderer(topology).render(), ScriptTemplates.builtIn(),
                new RunDirectories("secret", dir, ".epdctl/run", topology.hosts()));

        ProcessRecord e0 = plan.nodes().get(1).record();
        assertThat(e0.spec().envHashes()).containsEntry("HF_TOKEN", "***");
        assertThat(e0.spec().envHashes().get("VLLM_LOGGING_LEVEL")).matches("[0-9a-f]{16}");
        assertThat(e0.spec().argv()).contains("***").doesNotContain("sesame42");
        assertThat(e0.spec().toString()).doesNotContain("hunter22").doesNotContain("sesame42");
    }
}
