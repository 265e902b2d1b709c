package io.epdctl.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.epdctl.render.DeploymentRenderer;
import io.epdctl.render.LaunchSpec;
import io.epdctl.topology.LoadResult;
import io.epdctl.topology.TopologyLoader;
import io.epdctl.testing.SimCluster;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** The simulator's command line: everything epdctl and the guide pass is accepted, the rest refused as vLLM does. */
class ServeArgsParserTest {

    @ParameterizedTest
    @ValueSource(strings = {"topologies/1e1pd.yaml", "topologies/1e1p1d.yaml"})
    void acceptsEveryNodeEpdctlRenders(String topology) throws Exception {
        LoadResult loaded = TopologyLoader.load(Path.of(topology));
        assertThat(loaded.errors()).isEmpty();
        List<LaunchSpec> nodes = new DeploymentRenderer(loaded.topologyOrNull()).render().nodes();
        assertThat(nodes).isNotEmpty();
        for (LaunchSpec node : nodes) {
            List<String> argv = node.argv();
            assertThat(argv.subList(0, 2)).containsExactly("vllm", "serve");
            ServeArgs args = ServeArgsParser.parse(argv.subList(2, argv.size()));
            assertThat(args.port()).isEqualTo(node.port());
            assertThat(args.servedModelName()).isEqualTo("qwenvl");
            assertThat(args.enableRequestIdHeaders()).isTrue();
            switch (node.role()) {
                case "encoder" -> {
                    assertThat(args.ecTransfer().orElseThrow().producer()).isTrue();
                    assertThat(args.enablePrefixCaching()).isFalse();
                    assertThat(args.maxNumBatchedTokens()).contains(114688);
                }
                case "pd" -> assertThat(args.ecTransfer().orElseThrow().consumer()).isTrue();
                case "prefill" -> {
                    assertThat(args.ecTransfer().orElseThrow().consumer()).isTrue();
                    assertThat(args.kvTransfer().orElseThrow().producer()).isTrue();
                    assertThat(args.kvTransfer().get().kvPort()).isEqualTo(50001);
                }
                case "decode" -> {
                    assertThat(args.ecTransfer()).isEmpty();
                    assertThat(args.kvTransfer().orElseThrow().consumer()).isTrue();
                }
                default -> throw new AssertionError("unexpected role " + node.role());
            }
        }
    }

    @Test
    void acceptsTheGuidesSpellings() throws Exception {
        // as in the guide's run_p.sh: kv_port as a string, JSON spread over lines, --port quoted
        ServeArgs args = parse("/m", "--gpu-memory-utilization", "0.7", "--port", "33003", "--enforce-eager",
                "--enable-request-id-headers", "--served-model-name", "qwenvl", "--max-model-len", "32768",
                "--max-num-seqs", "128", "--kv-transfer-config", "{\"kv_connector\": \"MooncakeLayerwiseConnector\",\n"
                        + "  \"kv_role\": \"kv_producer\",\n  \"kv_port\": \"50001\",\n  \"engine_id\": \"0\",\n"
                        + "  \"kv_connector_extra_config\": {\"use_ascend_direct\": true,"
                        + " \"prefill\": {\"dp_size\": 1, \"tp_size\": 1}, \"decode\": {\"dp_size\": 1, \"tp_size\": 1}}}");
        assertThat(args.kvTransfer().orElseThrow().kvPort()).isEqualTo(50001);
        assertThat(args.kvTransfer().get().engineId()).isEqualTo("0");
        assertThat(args.enforceEager()).isTrue();
    }

    @Test
    void acceptsEqualsUnderscoresNegationsAndShortFlags() throws Exception {
        ServeArgs args = parse("/m", "--port=9", "--max_model_len", "32k", "--no-enforce-eager", "-tp", "2",
                "--served-model-name", "a", "b", "--host", "127.0.0.1");
        assertThat(args.port()).isEqualTo(9);
        assertThat(args.maxModelLen()).isEqualTo(32000);
        assertThat(args.enforceEager()).isFalse();
        assertThat(args.tensorParallelSize()).isEqualTo(2);
        assertThat(args.servedModelNames()).containsExactly("a", "b");
        assertThat(args.host()).contains("127.0.0.1");
        assertThat(args.serves("b")).isTrue();
    }

    @Test
    void rejectsUnknownFlagsAndExtraPositionals() {
        assertThatThrownBy(() -> parse("/m", "--port", "1", "--gpu-mem-util", "0.5"))
                .isInstanceOf(ArgumentError.class).hasMessage("unrecognized arguments: --gpu-mem-util 0.5");
        assertThatThrownBy(() -> parse("/m", "/other"))
                .isInstanceOf(ArgumentError.class).hasMessage("unrecognized arguments: /other");
        assertThatThrownBy(() -> parse("--port", "1"))
                .isInstanceOf(ArgumentError.class).hasMessageContaining("required: model_tag");
    }

    @Test
    void rejectsBadValues() {
        assertThatThrownBy(() -> parse("/m", "--port", "x1"))
                .isInstanceOf(ArgumentError.class).hasMessage("argument --port: invalid int value: 'x1'");
        assertThatThrownBy(() -> parse("/m", "--port"))
                .isInstanceOf(ArgumentError.class).hasMessage("argument --port: expected one argument");
        assertThatThrownBy(() -> parse("/m", "--enforce-eager=true"))
                .isInstanceOf(ArgumentError.class).hasMessageContaining("ignored explicit argument 'true'");
        assertThatThrownBy(() -> parse("/m", "--gpu-memory-utilization", "0.0"))
                .isInstanceOf(StartupFailure.class).hasMessageContaining("gpu_memory_utilization")
                .hasMessageContaining("greater than 0");
        assertThatThrownBy(() -> parse("/m", "--gpu-memory-utilization", "1.5"))
                .isInstanceOf(StartupFailure.class).hasMessageContaining("less than or equal to 1");
        assertThatThrownBy(() -> parse("/m", "--max-num-seqs", "0"))
                .isInstanceOf(StartupFailure.class).hasMessageContaining("max_num_seqs");
    }

    @Test
    void rejectsMalformedTransferConfigs() {
        assertThatThrownBy(() -> parse("/m", "--kv-transfer-config", "{\"kv_role\": \"kv_producer\""))
                .isInstanceOf(ArgumentError.class).hasMessageStartingWith("argument --kv-transfer-config: JSONDecodeError");
        assertThatThrownBy(() -> parse("/m", "--ec-transfer-config",
                "{\"ec_connector\":\"ECExampleConnector\",\"ec_role\":\"ec_producer\",\"ec_path\":\"/x\"}"))
                .isInstanceOf(ArgumentError.class)
                .hasMessageContaining("ECTransferConfig: ec_path: Unexpected keyword argument");
        assertThatThrownBy(() -> parse("/m", "--kv-transfer-config",
                "{\"kv_connector\":\"MooncakeLayerwiseConnector\",\"kv_role\":\"kv_decoder\"}"))
                .isInstanceOf(ArgumentError.class).hasMessageContaining("kv_role: Input should be");
        assertThatThrownBy(() -> parse("/m", "--ec-transfer-config",
                "{\"ec_connector\":\"ECExampleConnector\",\"ec_role\":\"producer\"}"))
                .isInstanceOf(ArgumentError.class).hasMessageContaining("ec_role: Input should be");
        assertThatThrownBy(() -> parse("/m", "--kv-transfer-config",
                "{\"kv_connector\":\"MooncakeLayerwiseConnector\",\"kv_role\":\"kv_consumer\",\"kv_port\":\"5x\"}"))
                .isInstanceOf(ArgumentError.class).hasMessageContaining("kv_port: Input should be a valid integer");
        assertThatThrownBy(() -> parse("/m", "--kv-transfer-config", "[1]"))
                .isInstanceOf(ArgumentError.class).hasMessageContaining("Input should be an object");
    }

    @Test
    void theTestClustersFlagsAreAccepted() throws Exception {
        // SimCluster mirrors the rendered commands; keep it parseable
        List<String> argv = new ArrayList<>(List.of("/m"));
        argv.addAll(SimCluster.commonFlags());
        assertThat(ServeArgsParser.parse(argv).servedModelName()).isEqualTo(SimCluster.SERVED_NAME);
    }

    @Test
    void acceptsTheDataParallelFlagsOfAGroupOverHosts() throws Exception {
        // as tests/e2e/nightly/multi_node/config/Qwen3-235B-A22B.yaml of vLLM-Ascend runs them
        ServeArgs leader = parse("/m", "--port", "8080", "--data-parallel-size", "4", "--data-parallel-size-local", "2",
                "--data-parallel-address", "10.0.0.2", "--data-parallel-rpc-port", "13389", "--tensor-parallel-size", "8");
        assertThat(leader.leadsOtherHosts()).isTrue();
        assertThat(leader.dataParallelRpcPort()).isEqualTo(13389);
        assertThat(leader.dataParallelAddress()).contains("10.0.0.2");
        ServeArgs headless = parse("/m", "--headless", "--data-parallel-size", "4", "--data-parallel-size-local", "2",
                "--data-parallel-start-rank", "2", "--data-parallel-address", "10.0.0.2", "--data-parallel-rpc-port", "13389");
        assertThat(headless.headless()).isTrue();
        assertThat(headless.leadsOtherHosts()).isFalse();
        assertThat(headless.dataParallelStartRank()).isEqualTo(2);
        assertThat(headless.dataParallelSizeLocal()).isEqualTo(2);
        ServeArgs alone = parse("/m", "--data-parallel-size", "2");
        assertThat(alone.leadsOtherHosts()).as("every rank here").isFalse();
        assertThat(alone.dataParallelRpcPort()).isEqualTo(ServeArgs.DEFAULT_RPC_PORT);
    }

    @Test
    void acceptsTheFlagsOfOneRankOfExternalDataParallelism() throws Exception {
        // as examples/external_online_dp/run_dp_template.sh of vLLM-Ascend passes them
        ServeArgs rank = parse("/m", "--port", "9001", "--data-parallel-size", "4", "--data-parallel-rank", "1",
                "--data-parallel-address", "10.0.0.2", "--data-parallel-rpc-port", "12345", "--tensor-parallel-size", "2");
        assertThat(rank.joinsRankZero()).isTrue();
        assertThat(rank.leadsOtherHosts()).isFalse();
        assertThat(rank.dataParallelSizeLocal()).isEqualTo(1);
        assertThat(rank.dataParallelStartRank()).isEqualTo(1);
        ServeArgs zero = parse("/m", "--data-parallel-size", "4", "--data-parallel-rank", "0", "--data-parallel-rpc-port", "12345");
        assertThat(zero.leadsOtherHosts()).as("rank 0 waits for the others").isTrue();
        assertThat(zero.joinsRankZero()).isFalse();
        assertThatThrownBy(() -> parse("/m", "--data-parallel-size", "2", "--data-parallel-rank", "2"))
                .isInstanceOf(StartupFailure.class).hasMessageContaining("data_parallel_rank 2 is outside 0-1");
        assertThatThrownBy(() -> parse("/m", "--headless", "--data-parallel-size", "2", "--data-parallel-rank", "1"))
                .isInstanceOf(ArgumentError.class).hasMessageContaining("not allowed with --headless");
    }

    @Test
    void refusesDataParallelRanksThatDoNotFit() {
        assertThatThrownBy(() -> parse("/m", "--data-parallel-size", "2", "--data-parallel-size-local", "3"))
                .isInstanceOf(StartupFailure.class).hasMessageContaining("data_parallel_size_local (3) must be <= data_parallel_size (2)");
        assertThatThrownBy(() -> parse("/m", "--headless", "--data-parallel-size", "4", "--data-parallel-size-local", "2",
                "--data-parallel-start-rank", "3"))
                .isInstanceOf(StartupFailure.class).hasMessageContaining("exceeds data_parallel_size 4");
        assertThatThrownBy(() -> parse("/m", "--data-parallel-size", "4", "--data-parallel-size-local", "2",
                "--data-parallel-start-rank", "2"))
                .isInstanceOf(ArgumentError.class).hasMessageContaining("add --headless");
        assertThatThrownBy(() -> parse("/m", "--headless", "--data-parallel-size", "2"))
                .isInstanceOf(StartupFailure.class).hasMessageContaining("no head node to join");
        assertThatThrownBy(() -> parse("/m", "--headless=1"))
                .isInstanceOf(ArgumentError.class).hasMessageContaining("argument --headless: ignored explicit argument '1'");
    }

    @Test
    void theHeadNodeRefusesEnginesThatDoNotFitItsGroup() {
        java.util.BitSet joined = new java.util.BitSet();
        joined.set(0, 2); // its own two ranks
        assertThat(DataParallelLink.refusal("rank 2 2 4", 4, joined)).isNull();
        assertThat(DataParallelLink.refusal("rank 2 2 8", 4, joined)).isEqualTo("--data-parallel-size 8 there, 4 here");
        assertThat(DataParallelLink.refusal("rank 1 2 4", 4, joined)).isEqualTo("ranks 1-2 overlap ranks that joined already");
        assertThat(DataParallelLink.refusal("rank 3 2 4", 4, joined)).isEqualTo("ranks 3-4 are outside 0-3");
        assertThat(DataParallelLink.refusal("GET / HTTP/1.1", 4, joined)).startsWith("not a data parallel engine");
        assertThat(DataParallelLink.refusal(null, 4, joined)).startsWith("not a data parallel engine");
        assertThat(DataParallelLink.refusal("rank x 2 4", 4, joined)).startsWith("not a data parallel engine");
    }

    private static ServeArgs parse(String... argv) throws ArgumentError, StartupFailure {
        return ServeArgsParser.parse(List.of(argv));
    }
}
