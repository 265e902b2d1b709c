package io.epdctl.render;

import static io.epdctl.render.LaunchComparison.assertCreatesDirectories;
import static io.epdctl.render.LaunchComparison.assertSameLaunch;
import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.render.LaunchComparison.Differences;
import io.epdctl.testing.CommandRecorder.Call;
import io.epdctl.testing.SystemTest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Upstream's layouts rendered from topologies/ run upstream's command lines: the transcribed command lines
 * (src/test/resources/upstream/, one script per process) and epdctl's rendered scripts run against the same
 * recording stand-ins ({@link LaunchComparison}). Each allowed difference is declared with upstream's value and
 * why; docs/topology.md ("Upstream layouts") lists the same.
 */
@SystemTest
class UpstreamLayoutTest {
    private static final String DEVICES_FOR_ASCEND =
            "the example is vLLM's, for GPUs; on Ascend the NPUs are chosen with ASCEND_RT_VISIBLE_DEVICES";
    private static final String SCRIPT_PATH = "upstream runs the script from its own directory; the topology names where it is";
    private static final String WILDCARD = "epdctl's proxy listens on its host's address (a wildcard address is refused)";
    private static final String SERVED_NAME =
            "epdctl always names the served model; the name is vLLM's default, the model";

    /** Host 0's environment as the multi-node runner gives it to the proxy. */
    private static final Map<String, String> MULTI_NODE_PROXY_ENV = Map.ofEntries(
            Map.entry("HCCL_OP_EXPANSION_MODE", "AIV"), Map.entry("VLLM_USE_MODELSCOPE", "True"),
            Map.entry("HCCL_BUFFSIZE", "1024"), Map.entry("SERVER_PORT", "8080"), Map.entry("OMP_PROC_BIND", "False"),
            Map.entry("OMP_NUM_THREADS", "1"), Map.entry("PYTORCH_NPU_ALLOC_CONF", "expandable_segments:True"),
            Map.entry("HCCL_DETERMINISTIC", "True"), Map.entry("TASK_QUEUE_ENABLE", "1"),
            Map.entry("HCCL_OP_RETRY_ENABLE", "L0:0, L1:0, L2:0"), Map.entry("GLOO_SOCKET_IFNAME", "eth0"),
            Map.entry("TP_SOCKET_IFNAME", "eth0"), Map.entry("HCCL_SOCKET_IFNAME", "eth0"), Map.entry("NIC_NAME", "eth0"),
            Map.entry("DISAGGREGATED_PREFILL_RANK_TABLE_PATH", "None"),
            Map.entry("LD_LIBRARY_PATH", "/usr/local/Ascend/ascend-toolkit/latest/python/site-packages:"),
            Map.entry("HCCL_IF_IP", "192.0.2.10"), Map.entry("LOCAL_IP", "192.0.2.10"), Map.entry("MASTER_IP", "192.0.2.10"));
    private static final String ALL_RANKS_LOCAL = "a node on one host runs all its ranks there, vLLM's default";
    private static final String TP_DEFAULT = "epdctl passes --tensor-parallel-size only when it is not 1, vLLM's default";
    private static final String HEADLESS = "a headless process serves no HTTP: --host and --served-model-name are unused";
    private static final String RUNNER_PLACEHOLDER = "the CI runner's variables, there to be substituted into its commands";
    private static final String MOONCAKE_MODULE = "vllm_ascend.distributed.mooncake_connector";
    private static final String HEADLESS_BACKEND = "the runner lists every decode host, the headless one too, which "
            + "serves no HTTP; epdctl lists the instance once, at its first host";
    private static final String MOONCAKE_RANGE = "the CI's kv_port lies inside the Mooncake transfer engine's port range on a "
            + "16-NPU host ([20000, 36000)), which fails now and then with Address already in use; validate refuses it";
    private static final String DECODE_KV_PORT = "the decode side binds no KV port with MooncakeConnectorV1; epdctl writes "
            + "the deployment's";
    private static final String MISSPELT_MODULE = "upstream misspells kv_connector_module_path (three n), a key vLLM "
            + "ignores or, since about 0.14, refuses; the connector is registered by name and needs no module path";
    private static final String KV_PORT = "upstream leaves kv_port to vLLM's default, 14579; epdctl writes it (the same)";
    private static final String ENGINE_ID = "upstream leaves engine_id to vLLM (a random one); epdctl numbers them";

    @TempDir
    Path dir;

    private LaunchComparison comparison;

    @BeforeEach
    void stubs() throws IOException {
        comparison = new LaunchComparison(dir, "vllm", "python", "rm", "mkdir");
    }

    /** vLLM's examples/online_serving/disaggregated_encoder/disagg_1e1pd_example.sh. */
    @Test
    void vllmDisaggregatedEncoderOneEncoderOnePd() throws Exception {
        Map<String, List<Call>> theirs = comparison.runTranscription("/upstream/vllm-disagg-1e1pd",
                "encoder.sh", "prefill_decode.sh", "proxy.sh");
        Map<String, List<Call>> ours = comparison.renderAndRun("topologies/vllm-disagg-1e1pd.yaml");
        assertThat(ours).containsOnlyKeys("e0.sh", "pd0.sh", "proxy.sh");

        assertSameLaunch("vllm", theirs.get("encoder.sh"), ours.get("e0.sh"), vllmExampleNode("0"));
        assertCreatesDirectories(theirs.get("encoder.sh"), ours.get("e0.sh"));
        assertSameLaunch("vllm", theirs.get("prefill_decode.sh"), ours.get("pd0.sh"), vllmExampleNode("1"));
        assertSameLaunch("python", theirs.get("proxy.sh"), ours.get("proxy.sh"), Differences.none()
                .positional(0, "disagg_epd_proxy.py",
                        "/vllm-workspace/vllm/examples/online_serving/disaggregated_encoder/disagg_epd_proxy.py", SCRIPT_PATH)
                .flag("--host", List.of("0.0.0.0"), List.of("localhost"), WILDCARD)
                .keepsProxyVariables());
    }

    /** vLLM-Ascend's single-node CI case Qwen2.5-VL-7B-Instruct-EPD, as its runner starts it. */
    @Test
    void vllmAscendEpdCi() throws Exception {
        Map<String, List<Call>> theirs = comparison.runTranscription("/upstream/vllm-ascend-epd-ci",
                "encode.sh", "pd.sh", "proxy.sh");
        Map<String, List<Call>> ours = comparison.renderAndRun("topologies/vllm-ascend-epd-ci.yaml");
        assertThat(ours).containsOnlyKeys("e0.sh", "pd0.sh", "proxy.sh");

        assertSameLaunch("vllm", theirs.get("encode.sh"), ours.get("e0.sh"), epdCiNode());
        assertSameLaunch("vllm", theirs.get("pd.sh"), ours.get("pd0.sh"), epdCiNode());
        String loopback = "the CI names this machine 127.0.0.1 for the proxy and localhost for its backends; "
                + "epdctl gives every backend its host's one address";
        assertSameLaunch("python", theirs.get("proxy.sh"), ours.get("proxy.sh"), ciPortVariables()
                .flag("--encode-servers-urls", List.of("http://localhost:23001"), List.of("http://127.0.0.1:23001"), loopback)
                .flag("--decode-servers-urls", List.of("http://localhost:33003"), List.of("http://127.0.0.1:33003"), loopback)
                .keepsProxyVariables());
    }

    /** vLLM-Ascend's examples/disaggregated_encoder/disagg_1e1p1d_example.sh, the KV cache pulled by the decoder. */
    @Test
    void vllmAscendDisaggregatedEncoderOneEncoderOnePrefillOneDecode() throws Exception {
        Map<String, List<Call>> theirs = comparison.runTranscription("/upstream/vllm-ascend-disagg-1e1p1d",
                "encoder.sh", "prefill.sh", "decode.sh", "proxy.sh");
        Map<String, List<Call>> ours = comparison.renderAndRun("topologies/vllm-ascend-disagg-1e1p1d.yaml");
        assertThat(ours).containsOnlyKeys("e0.sh", "p0.sh", "d0.sh", "proxy.sh");

        assertSameLaunch("vllm", theirs.get("encoder.sh"), ours.get("e0.sh"), ascendExampleNode());
        assertCreatesDirectories(theirs.get("encoder.sh"), ours.get("e0.sh"));
        assertSameLaunch("vllm", theirs.get("prefill.sh"), ours.get("p0.sh"), ascendExampleNode()
                .unclosedJson("--kv-transfer-config", "upstream's prefill JSON lacks its closing brace")
                .jsonKey("--kv-transfer-config", "kv_connnector_module_path", MOONCAKE_MODULE, null, MISSPELT_MODULE)
                .jsonKey("--kv-transfer-config", "kv_port", null, 14579, KV_PORT)
                .jsonKey("--kv-transfer-config", "engine_id", null, "0", ENGINE_ID));
        assertSameLaunch("vllm", theirs.get("decode.sh"), ours.get("d0.sh"), ascendExampleNode()
                .unclosedJson("--kv-transfer-config", "upstream's decode JSON lacks its closing brace")
                .jsonKey("--kv-transfer-config", "kv_connnector_module_path", MOONCAKE_MODULE, null, MISSPELT_MODULE)
                .jsonKey("--kv-transfer-config", "kv_port", null, 14579, KV_PORT)
                .jsonKey("--kv-transfer-config", "engine_id", null, "1", ENGINE_ID));
        assertSameLaunch("python", theirs.get("proxy.sh"), ours.get("proxy.sh"), Differences.none()
                .positional(0, "./disagg_epd_proxy.py",
                        "/vllm-workspace/vllm-ascend/examples/disaggregated_encoder/disagg_epd_proxy.py", SCRIPT_PATH)
                .flag("--host", List.of("0.0.0.0"), List.of("localhost"), WILDCARD)
                .keepsProxyVariables());
    }

    /**
     * vLLM-Ascend's multi-node CI case DeepSeek-R1-W8A8: two prefill hosts, a decode instance over two hosts, each
     * host's command as the CI's runner starts it.
     */
    @Test
    void vllmAscendPrefillDecodeWithDataParallelAcrossTwoHosts() throws Exception {
        comparison.interfaces("eth0", List.of("192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"));
        Map<String, List<Call>> theirs = comparison.runTranscription("/upstream/vllm-ascend-deepseek-r1-pd",
                "prefill-0.sh", "prefill-1.sh", "decode-2.sh", "decode-3.sh", "proxy.sh");
        Map<String, List<Call>> ours = comparison.renderAndRun("topologies/vllm-ascend-deepseek-r1-pd.yaml");
        assertThat(ours).containsOnlyKeys("p0.sh", "p1.sh", "d0.sh", "d0-dp16.sh", "proxy.sh");

        assertSameLaunch("vllm", theirs.get("prefill-0.sh"), ours.get("p0.sh"), multiNodeRunner("192.0.2.10", "192.0.2.10")
                .flag("--data-parallel-size-local", List.of("2"), null, ALL_RANKS_LOCAL)
                .jsonKey("--kv-transfer-config", "kv_port", 30000, 36000, MOONCAKE_RANGE));
        assertSameLaunch("vllm", theirs.get("prefill-1.sh"), ours.get("p1.sh"), multiNodeRunner("192.0.2.11", "192.0.2.10")
                .flag("--data-parallel-size-local", List.of("2"), null, ALL_RANKS_LOCAL)
                .jsonKey("--kv-transfer-config", "kv_port", 30100, 36100, MOONCAKE_RANGE));
        assertSameLaunch("vllm", theirs.get("decode-2.sh"), ours.get("d0.sh"), multiNodeRunner("192.0.2.12", "192.0.2.12")
                .flag("--data-parallel-start-rank", List.of("0"), null, "the first host's start rank is 0, vLLM's default")
                .flag("--tensor-parallel-size", List.of("1"), null, TP_DEFAULT)
                .jsonKey("--kv-transfer-config", "kv_port", 30200, 36000, DECODE_KV_PORT));
        assertSameLaunch("vllm", theirs.get("decode-3.sh"), ours.get("d0-dp16.sh"), multiNodeRunner("192.0.2.13", "192.0.2.12")
                .flag("--tensor-parallel-size", List.of("1"), null, TP_DEFAULT)
                .flag("--host", null, List.of("0.0.0.0"), HEADLESS)
                .jsonKey("--kv-transfer-config", "kv_port", 30200, 36000, DECODE_KV_PORT));
        assertSameLaunch("python", theirs.get("proxy.sh"), ours.get("proxy.sh"), Differences.none()
                .positional(0, "examples/disaggregated_prefill_v1/load_balance_proxy_server_example.py",
                        "/vllm-workspace/vllm-ascend/examples/disaggregated_prefill_v1/load_balance_proxy_server_example.py",
                        SCRIPT_PATH)
                .flag("--decoder-hosts", List.of("192.0.2.12", "192.0.2.13"), List.of("192.0.2.12"), HEADLESS_BACKEND)
                .flag("--decoder-ports", List.of("8080", "8080"), List.of("8080"), HEADLESS_BACKEND)
                .envLeftOut(MULTI_NODE_PROXY_ENV, "the runner gives the proxy its host's node environment; "
                        + "epdctl's proxy is not vLLM and gets none of it")
                .keepsProxyVariables());
    }

    /**
     * vLLM-Ascend's examples/external_online_dp/minimax_m2_pd: a prefill and a decode instance of two external
     * data-parallel ranks each (one API server per rank, as launch_online_dp.py starts them), behind the load-balance
     * proxy.
     */
    @Test
    void vllmAscendExternalDataParallelPrefillDecode() throws Exception {
        comparison.interfaces("eth0", List.of("192.0.2.20", "192.0.2.21"));
        Map<String, List<Call>> theirs = comparison.runTranscription("/upstream/vllm-ascend-external-dp-pd",
                "prefill-rank0.sh", "prefill-rank1.sh", "decode-rank0.sh", "decode-rank1.sh", "proxy.sh");
        Map<String, List<Call>> ours = comparison.renderAndRun("topologies/vllm-ascend-external-dp-pd.yaml");
        assertThat(ours).containsOnlyKeys("p0.sh", "p0-dp1.sh", "d0.sh", "d0-dp1.sh", "proxy.sh");

        String prefillKvPort = "the example's kv_port: its 16 handshake ports reach into the Mooncake transfer engine's "
                + "port range on a 16-NPU host ([20000, 36000)), which fails now and then; validate refuses it";
        for (String[] rank : new String[][] {{"prefill-rank0.sh", "p0.sh"}, {"prefill-rank1.sh", "p0-dp1.sh"}}) {
            assertSameLaunch("vllm", theirs.get(rank[0]), ours.get(rank[1]), externalRank("192.0.2.20")
                    .jsonKey("--kv-transfer-config", "kv_port", 35880, 36000, prefillKvPort));
        }
        for (String[] rank : new String[][] {{"decode-rank0.sh", "d0.sh"}, {"decode-rank1.sh", "d0-dp1.sh"}}) {
            assertSameLaunch("vllm", theirs.get(rank[0]), ours.get(rank[1]), externalRank("192.0.2.21")
                    .jsonKey("--kv-transfer-config", "kv_port", 56900, 36000, DECODE_KV_PORT));
        }
        assertSameLaunch("python", theirs.get("proxy.sh"), ours.get("proxy.sh"), Differences.none()
                .positional(0, "../../disaggregated_prefill_v1/load_balance_proxy_server_example.py",
                        "/vllm-workspace/vllm-ascend/examples/disaggregated_prefill_v1/load_balance_proxy_server_example.py",
                        SCRIPT_PATH)
                .keepsProxyVariables());
    }

    private static Differences externalRank(String address) {
        return Differences.none()
                .env("VLLM_HOST_IP", null, address, "epdctl derives the address an instance advertises from its host's");
    }

    /** What the multi-node CI's runner adds to a host's environment, and epdctl's network settings beside it. */
    private static Differences multiNodeRunner(String address, String master) {
        return Differences.none()
                .env("SERVER_PORT", "8080", null, RUNNER_PLACEHOLDER)
                .env("LOCAL_IP", address, null, RUNNER_PLACEHOLDER)
                .env("MASTER_IP", master, null, RUNNER_PLACEHOLDER)
                .env("NIC_NAME", "eth0", null, RUNNER_PLACEHOLDER)
                .env("DISAGGREGATED_PREFILL_RANK_TABLE_PATH", "None", null,
                        "the runner sets it to Python's None when the case has no rank table (none is needed)")
                .env("LD_LIBRARY_PATH", "/usr/local/Ascend/ascend-toolkit/latest/python/site-packages:", null,
                        "the runner prepends the CANN toolkit's Python packages; epdctl leaves the library path to vllm.setup")
                .env("VLLM_HOST_IP", null, address, "epdctl derives the address an instance advertises from its host's")
                .env("ASCEND_RT_VISIBLE_DEVICES", null, "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
                        "the runner leaves every NPU of the host visible; epdctl names the node's, the same 16")
                .flag("--served-model-name", null, List.of("vllm-ascend/DeepSeek-R1-0528-W8A8"), SERVED_NAME)
                .keepsProxyVariables();
    }

    private static Differences ascendExampleNode() {
        return Differences.none()
                .flag("--served-model-name", null, List.of("Qwen/Qwen2.5-VL-7B-Instruct"), SERVED_NAME)
                .keepsProxyVariables();
    }

    private static Differences vllmExampleNode(String device) {
        return Differences.none()
                .env("CUDA_VISIBLE_DEVICES", device, null, DEVICES_FOR_ASCEND)
                .env("ASCEND_RT_VISIBLE_DEVICES", null, device, DEVICES_FOR_ASCEND)
                .flag("--served-model-name", null, List.of("Qwen/Qwen2.5-VL-3B-Instruct"), SERVED_NAME)
                .keepsProxyVariables();
    }

    private static Differences epdCiNode() {
        return ciPortVariables()
                .flag("--served-model-name", null, List.of("Qwen/Qwen2.5-VL-7B-Instruct"), SERVED_NAME)
                .flag("--tensor-parallel-size", List.of("1"), null, TP_DEFAULT)
                .keepsProxyVariables();
    }

    /** The CI's runner exports its port placeholders to every process; epdctl writes the ports into the flags. */
    private static Differences ciPortVariables() {
        String why = "the CI's port placeholders, there to be substituted into its command lines";
        return Differences.none()
                .env("ENCODE_PORT", "23001", null, why)
                .env("PD_PORT", "33003", null, why)
                .env("PROXY_PORT", "8001", null, why);
    }
}
