package io.epdctl.topology;

import static io.epdctl.topology.TopologyText.VALID;
import static io.epdctl.topology.TopologyText.locate;
import static io.epdctl.topology.TopologyText.replace;
import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Each validation rule, broken once, through the real command line: message, line, column, exit code. */
class ValidateCommandTest {
    @TempDir
    Path dir;

    /**
     * A topology that breaks one rule; the problem must be reported at {@code path}, located where the
     * {@code occurrence}-th {@code needle} starts (plus {@code shift} columns), with {@code message} in it.
     */
    record Case(String rule, String yaml, String needle, int occurrence, int shift, String path, String message) {
        Case(String rule, String yaml, String needle, String path, String message) {
            this(rule, yaml, needle, 1, 0, path, message);
        }

        String location() {
            String[] at = locate(yaml, needle, occurrence).split(":");
            return at[0] + ":" + (Integer.parseInt(at[1]) + shift);
        }

        @Override
        public String toString() {
            return rule;
        }
    }

    private static final String NODES_1E1P1D = """
              - {name: e0, role: encoder, host: local, devices: [0], port: 23001}
              - {name: p0, role: prefill, host: local, devices: [1], port: 33003}
              - {name: d0, role: decode, host: local, devices: [2], port: 33006}
            """;

    /** VALID in pull mode: the prefill node binds the handshake ports, the decode node only connects. */
    private static final String PULL = replace(VALID, "kv-transfer: {kv-port: 50001}",
            "kv-transfer: {connector: MooncakeConnectorV1, kv-port: 50001}");

    private static String nodes(String nodes) {
        return replace(VALID, NODES_1E1P1D, nodes);
    }

    /** Valid: an encoder and a PD node over two hosts (internal data parallelism), which the DP cases break. */
    static final String DP = """
            name: test
            model: /models/qwen
            served-model-name: qwenvl
            hosts:
              local: {address: 127.0.0.1}
              npu-a: {address: 192.0.2.10, user: root, npus: 8}
              npu-b: {address: 192.0.2.11, npus: 8}
            ec-transfer: {shared-storage-path: /data/ec_cache}
            nodes:
              - {name: e0, role: encoder, host: npu-a, devices: [0], port: 23001}
              - name: pd0
                role: pd
                port: 33003
                data-parallel-rpc-port: 13389
                hosts:
                  - {host: npu-a, devices: [1, 2]}
                  - {host: npu-b, devices: [0, 1]}
            proxy: {host: npu-a, port: 8001}
            """;

    static Stream<Case> dataParallelCases() {
        return Stream.of(
                new Case("host given with hosts",
                        replace(DP, "    role: pd\n", "    role: pd\n    host: npu-a\n"),
                        "host: npu-a\n", 1, 6, "nodes[1].host", "host cannot be given with hosts"),
                new Case("hosts of one host",
                        replace(DP, "      - {host: npu-b, devices: [0, 1]}\n", ""),
                        "- {host: npu-a", "nodes[1].hosts", "expected at least two hosts (a node on one host gives host and devices)"),
                new Case("no RPC port for a node over several hosts",
                        replace(DP, "    data-parallel-rpc-port: 13389\n", ""),
                        "name: pd0", "nodes[1].data-parallel-rpc-port", "missing required key 'data-parallel-rpc-port'"),
                new Case("an RPC port on a node of one host",
                        replace(DP, "port: 23001}", "port: 23001, data-parallel-rpc-port: 13390}"),
                        "13390", "nodes[0].data-parallel-rpc-port", "data-parallel-rpc-port is only for a node over several hosts"),
                new Case("a host's devices not whole ranks",
                        replace(DP, "    port: 33003\n", "    port: 33003\n    tensor-parallel-size: 2\n    data-parallel-size: 2\n")
                                .replace("devices: [0, 1]}", "devices: [0, 1, 3]}"),
                        "[0, 1, 3]", "nodes[1].hosts[1].devices", "3 device(s) given on host 'npu-b', not a multiple of tensor-parallel-size 2"),
                new Case("a given data-parallel-size that the devices do not make",
                        replace(DP, "    port: 33003\n", "    port: 33003\n    data-parallel-size: 3\n"),
                        "- {host: npu-a", "nodes[1].hosts", "4 device(s) given, but tensor-parallel-size 1 x data-parallel-size 3 needs 3"),
                new Case("one host twice",
                        replace(DP, "{host: npu-b, devices: [0, 1]}", "{host: npu-a, devices: [3, 4]}"),
                        "npu-a, devices: [3", "nodes[1].hosts[1].host", "host 'npu-a' is listed twice"),
                new Case("an NPU of one host given to another node",
                        replace(DP, "{host: npu-a, devices: [1, 2]}", "{host: npu-a, devices: [0, 2]}"),
                        "0, 2]", "nodes[1].hosts[0].devices[0]", "NPU 0 on host 192.0.2.10 is already given to nodes[0] (e0)"),
                new Case("an NPU beyond a later host's",
                        replace(DP, "{host: npu-b, devices: [0, 1]}", "{host: npu-b, devices: [0, 8]}"),
                        "8]}", "nodes[1].hosts[1].devices[1]", "NPU 8 does not exist: host 'npu-b' has 8 NPUs (0-7)"),
                new Case("the RPC port on another listener of the first host",
                        replace(DP, "data-parallel-rpc-port: 13389", "data-parallel-rpc-port: 23001"),
                        "23001", 2, 0, "nodes[1].data-parallel-rpc-port",
                        "data-parallel RPC port 23001 of nodes[1] (pd0) on host 192.0.2.10 overlaps port 23001 of nodes[0] (e0)"),
                new Case("a node named as another node's process on a later host",
                        replace(DP, "name: e0,", "name: pd0-dp2,"),
                        "pd0-dp2", "nodes[0].name", "'pd0-dp2' is the name of the process of nodes[1] (pd0) on host 'npu-b' (its ranks from 2)"),
                new Case("a data-parallel flag set by hand",
                        replace(DP, "    port: 33003\n", "    port: 33003\n    args: {headless: true}\n"),
                        "true", "nodes[1].args.headless", "epdctl derives --headless from the node's hosts"),
                new Case("the first host on loopback, the others elsewhere",
                        replace(DP, "{host: npu-a, devices: [1, 2]}", "{host: local, devices: [1, 2]}"),
                        "local, devices", "nodes[1].hosts[0].host",
                        "nodes[1] (pd0) runs its first ranks on host 'local' whose address 127.0.0.1 is loopback"),
                new Case("an unknown data-parallel-mode, with a suggestion",
                        replace(DP, "    port: 33003\n", "    port: 33003\n    data-parallel-mode: externel\n"),
                        "externel", "nodes[1].data-parallel-mode", "unknown data-parallel-mode 'externel' (expected internal or external), did you mean 'external'?"),
                new Case("external data parallelism of one rank",
                        replace(DP, "port: 23001}", "port: 23001, data-parallel-mode: external, data-parallel-rpc-port: 13390}"),
                        "external", "nodes[0].data-parallel-mode", "data-parallel-mode external needs a data-parallel-size of at least 2"),
                new Case("external data parallelism without an RPC port",
                        replace(DP, "port: 23001}", "port: 23001, devices: [0, 3], data-parallel-size: 2, data-parallel-mode: external}")
                                .replace("devices: [0], ", ""),
                        "{name: e0", "nodes[0].data-parallel-rpc-port", "a node of data-parallel-mode external needs the port its first rank listens on"),
                new Case("a rank's port on another node's",
                        replace(DP, "    port: 33003\n", "    port: 33003\n    data-parallel-mode: external\n").replace("port: 23001}", "port: 33004}"),
                        "33003", "nodes[1].port", "port 33004 of nodes[1] (pd0) (rank 1) on host 192.0.2.10 overlaps port 33004 of nodes[0] (e0)"),
                new Case("the rank flag set by hand",
                        replace(DP, "    port: 33003\n", "    port: 33003\n    data-parallel-mode: external\n    args: {data-parallel-rank: 1}\n"),
                        "rank: 1}", 1, 6, "nodes[1].args.data-parallel-rank", "epdctl derives --data-parallel-rank from the node's data-parallel-mode external"),
                new Case("a node over several hosts in containers",
                        replace(DP, "    port: 33003\n", "    port: 33003\n    runtime: docker\n    image: vllm-ascend\n"),
                        "name: pd0", "nodes[1]", "a node over several hosts or of data-parallel-mode external runs as processes: runtime docker is not supported"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dataParallelCases")
    void reportsTheBrokenDataParallelRuleWhereItIs(Case c) {
        reportsTheBrokenRuleWhereItIs(c);
    }

    @Test
    void aNodeOverSeveralHostsIsValid() {
        Cli.Result result = Cli.run("validate", TopologyText.write(dir, DP).toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(result.out()).contains("valid: deployment test, 2 nodes (1 encoder, 1 pd) on 2 hosts");
        assertThat(result.err()).as("its ranks on npu-b read the encoder's files too")
                .contains("encoders on host 'npu-a' and nodes[1] (pd0) on 'npu-b' must see /data/ec_cache as one shared mount");
    }

    static Stream<Case> cases() {
        String onePdNoEncoder = nodes("  - {name: pd0, role: pd, host: local, devices: [0], port: 33003}\n")
                .replace("kv-transfer: {kv-port: 50001}\n", "");
        return Stream.concat(proxyKindCases(), Stream.of(
                new Case("YAML syntax",
                        replace(VALID, "served-model-name: qwenvl", "served-model-name: qwenvl: x"),
                        ": x", 1, 0, "", "invalid YAML: mapping values are not allowed here"),
                new Case("duplicate YAML key",
                        replace(VALID, "model: /models/qwen\n", "model: /models/qwen\nmodel: /models/other\n"),
                        "model: /models/other", "model", "duplicate key 'model' (first given at line 2)"),
                new Case("unknown key, with a suggestion",
                        replace(VALID, "user: root", "usr: root"),
                        "usr", "hosts.npu-a.usr", "unknown key 'usr', did you mean 'user'?"),
                new Case("wrong type",
                        replace(VALID, "port: 33006", "port: \"33006\""),
                        "\"33006\"", "nodes[2].port", "expected a whole number, got a string"),
                new Case("missing field",
                        replace(VALID, ", port: 33006}", "}"),
                        "{name: d0", "nodes[2].port", "missing required key 'port'"),
                new Case("missing section",
                        replace(VALID, "proxy: {host: local, port: 8001}\n", ""),
                        "name: test", "proxy", "missing required key 'proxy'"),
                new Case("unknown role, with a suggestion",
                        replace(VALID, "role: decode", "role: decoder"),
                        "decoder", "nodes[2].role", "unknown role 'decoder', did you mean 'decode'?"),
                new Case("unknown host, with a suggestion",
                        replace(VALID, "role: decode, host: local", "role: decode, host: npu-b"),
                        "npu-b", "nodes[2].host", "unknown host 'npu-b', did you mean 'npu-a'?"),
                new Case("unknown restart policy of a node, with a suggestion",
                        replace(VALID, "devices: [2], port: 33006}", "devices: [2], port: 33006, restart: on-failures}"),
                        "on-failures", "nodes[2].restart", "unknown restart policy 'on-failures' (expected on-failure or never), "
                                + "did you mean 'on-failure'?"),
                new Case("unknown restart policy for every node",
                        replace(VALID, "ec-transfer:", "vllm: {restart: always}\nec-transfer:"),
                        "always", "vllm.restart", "unknown restart policy 'always' (expected on-failure or never)"),
                new Case("restart policy of the proxy that is not a string",
                        replace(VALID, "proxy: {host: local, port: 8001}", "proxy: {host: local, port: 8001, restart: [never]}"),
                        "[never]", "proxy.restart", "expected a string, got a list"),
                new Case("PD mixed with P/D",
                        nodes(NODES_1E1P1D + "  - {name: pd0, role: pd, host: local, devices: [3], port: 33009}\n"),
                        "prefill", "nodes[1].role", "role prefill cannot be mixed with pd nodes (nodes[3] (pd0) is pd)"),
                new Case("no encoder",
                        onePdNoEncoder,
                        "- {name: pd0", "nodes", "no encoder: an EPD deployment needs at least one node with role encoder"),
                new Case("prefill without decode",
                        replace(VALID, "  - {name: d0, role: decode, host: local, devices: [2], port: 33006}\n", ""),
                        "prefill", "nodes[1].role", "prefill nodes need at least one decode node"),
                new Case("decode without prefill",
                        replace(VALID, "  - {name: p0, role: prefill, host: local, devices: [1], port: 33003}\n", ""),
                        "decode", "nodes[1].role", "decode nodes need at least one prefill node"),
                new Case("duplicate node names",
                        replace(VALID, "name: d0", "name: p0"),
                        "p0", 2, 0, "nodes[2].name", "duplicate node name 'p0' (also nodes[1] at line 11)"),
                new Case("two nodes on one host and port",
                        replace(VALID, "port: 33006", "port: 33003"),
                        "33003", 2, 0, "nodes[2].port",
                        "port 33003 of nodes[2] (d0) on this machine overlaps port 33003 of nodes[1] (p0)"),
                new Case("the proxy on a node's port",
                        replace(VALID, "port: 8001", "port: 23001"),
                        "23001", 2, 0, "proxy.port",
                        "port 23001 of the proxy on this machine overlaps port 23001 of nodes[0] (e0)"),
                new Case("a node port inside a decode node's KV port range",
                        nodes(NODES_1E1P1D + "  - {name: e1, role: encoder, host: local, devices: [3], port: 50001}\n"),
                        "50001", 2, 0, "nodes[3].port",
                        "port 50001 of nodes[3] (e1) on this machine overlaps KV port 50001 of nodes[2] (d0)"),
                new Case("two decode nodes' KV port ranges",
                        nodes(NODES_1E1P1D + "  - {name: d1, role: decode, host: local, devices: [3, 4], port: 33009,"
                                + " tensor-parallel-size: 2, kv-port: 50000}\n"),
                        "50000", "nodes[3].kv-port",
                        "KV ports 50000-50001 of nodes[3] (d1) on this machine overlaps KV port 50001 of nodes[2] (d0)"),
                new Case("one NPU given to two nodes",
                        replace(VALID, "devices: [2], port: 33006", "devices: [1], port: 33006"),
                        "1], port: 33006", "nodes[2].devices[0]",
                        "NPU 1 on this machine is already given to nodes[1] (p0)"),
                new Case("an NPU the host does not have",
                        replace(replace(VALID, "role: encoder, host: local", "role: encoder, host: npu-a"),
                                "devices: [0], port: 23001", "devices: [8], port: 23001"),
                        "8], port: 23001", "nodes[0].devices[0]", "NPU 8 does not exist: host 'npu-a' has 8 NPUs (0-7)"),
                new Case("devices count not tp x dp",
                        replace(VALID, "devices: [2], port: 33006", "devices: [2], port: 33006, data-parallel-size: 2"),
                        "[2], port: 33006", "nodes[2].devices",
                        "1 device(s) given, but tensor-parallel-size 1 x data-parallel-size 2 needs 2"),
                new Case("prefill tp not a multiple of decode tp",
                        replace(replace(VALID, "devices: [1], port: 33003", "devices: [1, 3, 4], port: 33003, tensor-parallel-size: 3"),
                                "devices: [2], port: 33006", "devices: [2, 5], port: 33006, tensor-parallel-size: 2"),
                        "size: 3", 1, 6, "nodes[1].tensor-parallel-size",
                        "the prefill tensor-parallel-size (3) must be a multiple of the decode tensor-parallel-size (2, nodes[2] (d0))"),
                new Case("KV ports inside the Mooncake transfer engine's range",
                        replace(replace(VALID, "kv-transfer: {kv-port: 50001}", "kv-transfer: {kv-port: 27000}"),
                                "role: decode, host: local", "role: decode, host: npu-a"),
                        "27000", "kv-transfer.kv-port",
                        "the KV ports 27000-27000 of nodes[2] (d0) fall inside the range the Mooncake transfer engine takes "
                                + "its ports from on host 'npu-a' (20000-27999 for 8 NPUs)"),
                new Case("KV ports inside the Mooncake range of a host whose NPU count is unknown",
                        replace(VALID, "kv-transfer: {kv-port: 50001}", "kv-transfer: {kv-port: 21000}"),
                        "21000", "kv-transfer.kv-port",
                        "(20000-22999 for at least 3 NPUs), which fails now and then with 'Address already in use'; "
                                + "use a kv-port of at least 23000"),
                new Case("relative EC path",
                        replace(VALID, "/data/ec_cache", "data/ec_cache"),
                        "data/ec_cache", "ec-transfer.shared-storage-path",
                        "'data/ec_cache' is relative: give an absolute path, the same on every host"),
                new Case("EC path /",
                        replace(VALID, "shared-storage-path: /data/ec_cache", "shared-storage-path: /"),
                        "/}", "ec-transfer.shared-storage-path", "'/' is a system or home directory"),
                new Case("EC path with ..",
                        replace(VALID, "/data/ec_cache", "/data/../etc"),
                        "/data/../etc", "ec-transfer.shared-storage-path", "contains '..'"),
                new Case("empty EC path",
                        replace(VALID, "shared-storage-path: /data/ec_cache", "shared-storage-path: ''"),
                        "''", "ec-transfer.shared-storage-path", "must not be empty"),
                new Case("proxy on loopback while a decode node is on another host",
                        replace(VALID, "role: decode, host: local", "role: decode, host: npu-a"),
                        "local, port: 8001", "proxy.host",
                        "the proxy listens on 127.0.0.1 (host 'local'), but decode node nodes[2] (d0) on host 'npu-a' must "
                                + "call its metaserver back at that address"),
                new Case("proxy on a wildcard address",
                        replace(VALID, "local: {address: 127.0.0.1}", "local: {address: 0.0.0.0}"),
                        "0.0.0.0", "hosts.local.address", "0.0.0.0 is a wildcard, not an address other hosts"),
                new Case("a node on loopback while the proxy is on another host",
                        replace(VALID, "proxy: {host: local", "proxy: {host: npu-a"),
                        "local, devices: [0]", "nodes[0].host",
                        "nodes[0] (e0) is on host 'local' whose address 127.0.0.1 is loopback, but the proxy runs on 'npu-a'"),
                new Case("a flag epdctl derives",
                        replace(VALID, "ec-transfer:", "vllm: {args: {served-model-name: other}}\nec-transfer:"),
                        "other", "vllm.args.served-model-name",
                        "epdctl derives --served-model-name from served-model-name; remove it here"),
                new Case("a flag the built-in proxy does not have, with a suggestion",
                        replace(VALID, "port: 8001}", "port: 8001, args: {backend-timout: 30}}"),
                        "30}", "proxy.args.backend-timout",
                        "the built-in proxy has no flag --backend-timout, did you mean 'backend-timeout'?"),
                new Case("a built-in proxy flag whose value is not a number",
                        replace(VALID, "port: 8001}", "port: 8001, args: {retry-delay: soon}}"),
                        "soon", "proxy.args.retry-delay", "expected a number of seconds, 0 or more, got 'soon'"),
                new Case("a built-in proxy flag below its minimum",
                        replace(VALID, "port: 8001}", "port: 8001, args: {max-retries: 0}}"),
                        "0}", "proxy.args.max-retries", "expected a whole number of at least 1, got 0"),
                new Case("an encoder dispatch mode the built-in proxy does not have",
                        replace(VALID, "port: 8001}", "port: 8001, args: {encoder-dispatch-mode: spread}}"),
                        "spread", "proxy.args.encoder-dispatch-mode", "expected single or fanout, got 'spread'"),
                new Case("a flag written with its dashes",
                        replace(VALID, "ec-transfer:", "vllm: {args: {--max-model-len: 1024}}\nec-transfer:"),
                        "--max-model-len", "vllm.args.--max-model-len", "write the flag without its dashes: 'max-model-len'"),
                new Case("the devices variable set by hand",
                        replace(VALID, "port: 33006}", "port: 33006, env: {ASCEND_RT_VISIBLE_DEVICES: '2'}}"),
                        "'2'", "nodes[2].env.ASCEND_RT_VISIBLE_DEVICES",
                        "epdctl sets ASCEND_RT_VISIBLE_DEVICES from the node's devices"),
                new Case("a node named like the proxy's script",
                        replace(VALID, "name: d0", "name: proxy"),
                        "proxy,", "nodes[2].name", "'proxy' is the name of the proxy's script"),
                new Case("a node named like the proxy of a hand-over",
                        replace(VALID, "name: d0", "name: proxy-next"),
                        "proxy-next,", "nodes[2].name", "'proxy-next' is the name of the proxy that serves while the proxy is replaced"),
                new Case("P and D without kv-transfer",
                        replace(VALID, "kv-transfer: {kv-port: 50001}\n", ""),
                        "name: test", "kv-transfer", "missing required key 'kv-transfer'"),
                new Case("kv-port on a prefill node",
                        replace(VALID, "port: 33003}", "port: 33003, kv-port: 50010}"),
                        "50010", "nodes[1].kv-port", "kv-port is for decode nodes only"),
                new Case("the pre-0.13 EC connector name",
                        replace(VALID, "ec-transfer: {", "ec-transfer: {connector: ECSharedStorageConnector, "),
                        "ECSharedStorageConnector", "ec-transfer.connector",
                        "ECSharedStorageConnector was renamed ECExampleConnector in vLLM 0.13"),
                new Case("unequal parallel sizes among decode nodes",
                        nodes(NODES_1E1P1D + "  - {name: d1, role: decode, host: local, devices: [3, 4], port: 33009,"
                                + " tensor-parallel-size: 2, kv-port: 50010}\n"),
                        "2, kv-port: 50010", "nodes[3].tensor-parallel-size",
                        "all decode nodes need the same tensor and data parallel sizes"),
                new Case("unknown runtime, with a suggestion",
                        replace(VALID, "local: {address: 127.0.0.1}", "local: {address: 127.0.0.1, runtime: dokcer}"),
                        "dokcer", "hosts.local.runtime", "unknown runtime 'dokcer' (expected process or docker), did you mean 'docker'?"),
                new Case("runtime docker without an image",
                        replace(VALID, "local: {address: 127.0.0.1}", "local: {address: 127.0.0.1, runtime: docker}"),
                        "{name: e0", "nodes[0]", "runtime docker (given in hosts.local) needs an image: set image on the node, its host or vllm"),
                new Case("a docker run flag epdctl sets itself",
                        replace(VALID, "{name: p0, role: prefill, host: local,",
                                "{name: p0, role: prefill, host: local, runtime: docker, image: vllm-ascend, docker: {args: [--shm-size=8g, --net=bridge]},"),
                        "--net=bridge", "nodes[1].docker.args[1]",
                        "'--net' cannot be given here: nodes run on the host's network (--net=host), where the proxy and the other nodes reach them"),
                new Case("environment passed as a docker flag",
                        replace(VALID, "{name: p0, role: prefill, host: local,",
                                "{name: p0, role: prefill, host: local, runtime: docker, image: vllm-ascend, docker: {args: [-e, HF_TOKEN=x]},"),
                        "-e", "nodes[1].docker.args[0]",
                        "'-e' cannot be given here: give variables in env: epdctl passes them by name, so no value is on a command line"),
                new Case("docker args not a list",
                        replace(VALID, "{name: p0, role: prefill, host: local,",
                                "{name: p0, role: prefill, host: local, runtime: docker, image: vllm-ascend, docker: {args: --privileged},"),
                        "--privileged", "nodes[1].docker.args", "expected a list of strings, got a string"),
                new Case("pull mode: kv-port on a decode node, which binds nothing",
                        replace(PULL, "port: 33006}", "port: 33006, kv-port: 50010}"),
                        "50010", "nodes[2].kv-port", "kv-port is for prefill nodes only with MooncakeConnectorV1"),
                new Case("pull mode: two prefill nodes' handshake port ranges",
                        replace(PULL, NODES_1E1P1D, NODES_1E1P1D
                                + "  - {name: p1, role: prefill, host: local, devices: [3], port: 33004, kv-port: 50001}\n"),
                        "50001}", 2, 0, "nodes[3].kv-port",
                        "KV port 50001 of nodes[3] (p1) on this machine overlaps KV port 50001 of nodes[1] (p0)"),
                new Case("pull mode: a node port inside a prefill node's handshake range",
                        replace(PULL, NODES_1E1P1D, NODES_1E1P1D
                                + "  - {name: e1, role: encoder, host: local, devices: [3], port: 50001}\n"),
                        "50001}", 2, 0, "nodes[3].port",
                        "port 50001 of nodes[3] (e1) on this machine overlaps KV port 50001 of nodes[1] (p0)"),
                new Case("pull mode: prefill tp below decode tp",
                        replace(replace(PULL, "devices: [1], port: 33003", "devices: [1], port: 33003, tensor-parallel-size: 1"),
                                "devices: [2], port: 33006", "devices: [2, 5], port: 33006, tensor-parallel-size: 2"),
                        "size: 1", 1, 6, "nodes[1].tensor-parallel-size",
                        "the prefill tensor-parallel-size (1) must be at least the decode tensor-parallel-size and a multiple"
                                + " of it (2, nodes[2] (d0))"),
                new Case("pull mode: a prefill node on loopback while its decode node is on another host",
                        replace(PULL, "role: decode, host: local", "role: decode, host: npu-a"),
                        "local, devices: [1]", "nodes[1].host",
                        "nodes[1] (p0) is on host 'local' whose address 127.0.0.1 is loopback, but decode node nodes[2] (d0)"
                                + " on host 'npu-a' pulls the KV cache from that address (MooncakeConnectorV1)"),
                new Case("pull mode: handshake ports inside the Mooncake range of the prefill node's host",
                        replace(replace(PULL, "kv-port: 50001", "kv-port: 27000"), "role: prefill, host: local",
                                "role: prefill, host: npu-a"),
                        "27000", "kv-transfer.kv-port",
                        "the KV ports 27000-27000 of nodes[1] (p0) fall inside the range the Mooncake transfer engine takes "
                                + "its ports from on host 'npu-a' (20000-27999 for 8 NPUs)"),
                new Case("pull mode: --kv-flow set by hand",
                        replace(PULL, "proxy: {host: local, port: 8001}", "proxy: {host: local, port: 8001, args: {kv-flow: pull}}"),
                        "kv-flow", 1, 9, "proxy.args.kv-flow", "epdctl derives --kv-flow from the topology"),
                new Case("unknown docker key, with a suggestion",
                        replace(VALID, "{name: p0, role: prefill, host: local,",
                                "{name: p0, role: prefill, host: local, runtime: docker, image: vllm-ascend, docker: {comand: podman},"),
                        "comand", "nodes[1].docker.comand", "unknown key 'comand', did you mean 'command'?")));
    }

    private static final String PROXY = "proxy: {host: local, port: 8001}";

    private static String proxy(String yaml, String entries) {
        return replace(yaml, PROXY, "proxy: {host: local, port: 8001, " + entries + "}");
    }

    private static String pullMode(String yaml) {
        return replace(yaml, "kv-transfer: {kv-port: 50001}", "kv-transfer: {connector: MooncakeConnectorV1, kv-port: 50001}");
    }

    /** Which upstream proxy a script is, and the layouts and KV flows each serves. */
    static Stream<Case> proxyKindCases() {
        String ePd = nodes("""
                  - {name: e0, role: encoder, host: local, devices: [0], port: 23001}
                  - {name: pd0, role: pd, host: local, devices: [1], port: 33003}
                """).replace("kv-transfer: {kv-port: 50001}\n", "");
        String pD = nodes("""
                  - {name: p0, role: prefill, host: local, devices: [1], port: 33003}
                  - {name: d0, role: decode, host: local, devices: [2], port: 33006}
                """);
        String layerwise = "/opt/vllm-ascend/examples/epd_disaggregated/epd_load_balance_proxy_layerwise_server_example.py";
        String disagg = "/opt/vllm/examples/online_serving/disaggregated_encoder/disagg_epd_proxy.py";
        String loadBalance = "/opt/vllm-ascend/examples/disaggregated_prefill_v1/load_balance_proxy_server_example.py";
        return Stream.of(
                new Case("unknown proxy kind", proxy(VALID, "script: " + disagg + ", kind: disagg"),
                        "disagg}", "proxy.kind", "unknown proxy kind 'disagg' (expected one of epd-layerwise "
                                + "(epd_load_balance_proxy_layerwise_server_example.py), disagg-epd (disagg_epd_proxy.py), "
                                + "load-balance (load_balance_proxy_server_example.py))"),
                new Case("a script whose file name names no upstream proxy", proxy(VALID, "script: /opt/my_proxy.py"),
                        "/opt/my_proxy.py", "proxy.script", "cannot tell which upstream proxy '/opt/my_proxy.py' is from "
                                + "its file name: set proxy.kind to one of epd-layerwise"),
                new Case("a proxy kind without a script", proxy(VALID, "kind: disagg-epd"),
                        "disagg-epd", "proxy.kind", "kind names an upstream proxy script, but there is no 'script'"),
                new Case("the load-balance proxy before encoders (kind from the file name)",
                        proxy(pullMode(VALID), "script: " + loadBalance), "/opt/vllm-ascend", "proxy.script",
                        "the load-balance (load_balance_proxy_server_example.py) proxy does not serve E+P+D deployments; "
                                + "use proxy.kind epd-layerwise (epd_load_balance_proxy_layerwise_server_example.py) or "
                                + "disagg-epd (disagg_epd_proxy.py), or the built-in proxy (no script)"),
                new Case("the load-balance proxy before pd nodes (kind given)",
                        proxy(ePd, "script: /srv/lb.py, kind: load-balance"), "load-balance", "proxy.kind",
                        "proxy does not serve E+PD deployments; use proxy.kind epd-layerwise"),
                new Case("prefill and decode without encoders behind the disagg-epd proxy",
                        proxy(pullMode(pD), "script: " + disagg), "/opt/vllm/", "proxy.script",
                        "the disagg-epd (disagg_epd_proxy.py) proxy does not serve P+D without encoders deployments; "
                                + "use proxy.kind load-balance (load_balance_proxy_server_example.py)"),
                new Case("no encoder behind the built-in proxy names the load-balance proxy", pD,
                        "- {name: p0", "nodes", "no encoder: an EPD deployment needs at least one node with role encoder "
                                + "(prefill and decode nodes without encoders run behind proxy.kind load-balance"),
                new Case("the disagg-epd proxy with the layerwise connector", proxy(VALID, "script: " + disagg),
                        "/opt/vllm/", "proxy.script", "the disagg-epd (disagg_epd_proxy.py) proxy drives MooncakeConnectorV1 "
                                + "(prefill first, the decode node pulls), not kv-transfer.connector MooncakeLayerwiseConnector; "
                                + "use proxy.kind epd-layerwise (epd_load_balance_proxy_layerwise_server_example.py), or "
                                + "kv-transfer.connector MooncakeConnectorV1"),
                new Case("the layerwise EPD proxy with the pull-mode connector", proxy(pullMode(VALID), "script: " + layerwise),
                        "/opt/vllm-ascend", "proxy.script", "the epd-layerwise (epd_load_balance_proxy_layerwise_server_example.py) "
                                + "proxy drives MooncakeLayerwiseConnector (decode first, the prefill node pushes), not "
                                + "kv-transfer.connector MooncakeConnectorV1; use proxy.kind disagg-epd (disagg_epd_proxy.py), "
                                + "or kv-transfer.connector MooncakeLayerwiseConnector"),
                new Case("the load-balance proxy with the layerwise connector", proxy(pD, "script: " + loadBalance),
                        "/opt/vllm-ascend", "proxy.script", "proxy drives MooncakeConnectorV1 (prefill first, the decode "
                                + "node pulls), not kv-transfer.connector MooncakeLayerwiseConnector; set kv-transfer.connector "
                                + "MooncakeConnectorV1"),
                new Case("a backend list the disagg-epd proxy is given by epdctl",
                        proxy(ePd, "script: " + disagg + ", args: {decode-servers-urls: http://x:1}"),
                        "http://x:1", "proxy.args.decode-servers-urls",
                        "epdctl derives --decode-servers-urls from the topology; remove it here"));
    }

    /** Each upstream proxy's own layouts validate, and validate says which proxy runs. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("servedLayouts")
    void eachUpstreamProxyServesItsLayouts(String label, String yaml, String kind) {
        Cli.Result result = Cli.run("validate", TopologyText.write(dir, yaml).toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(result.out()).contains("proxy on local:8001 (script: " + kind + ")");
        assertThat(result.err()).as("warnings").doesNotContain("kv-transfer").doesNotContain("proxy.");
    }

    static Stream<Arguments> servedLayouts() {
        String ePd = nodes("""
                  - {name: e0, role: encoder, host: local, devices: [0], port: 23001}
                  - {name: pd0, role: pd, host: local, devices: [1], port: 33003}
                """).replace("kv-transfer: {kv-port: 50001}\n", "");
        String pD = nodes("""
                  - {name: p0, role: prefill, host: local, devices: [1], port: 33003}
                  - {name: d0, role: decode, host: local, devices: [2], port: 33006}
                """);
        String layerwise = "script: /opt/epd_load_balance_proxy_layerwise_server_example.py";
        String disagg = "script: /opt/disagg_epd_proxy.py";
        return Stream.of(
                Arguments.of("epd-layerwise, E+PD", proxy(ePd, layerwise), "epd-layerwise"),
                Arguments.of("epd-layerwise, E+P+D", proxy(VALID, layerwise), "epd-layerwise"),
                Arguments.of("disagg-epd, E+PD", proxy(ePd, disagg), "disagg-epd"),
                Arguments.of("disagg-epd, E+P+D", proxy(pullMode(VALID), disagg), "disagg-epd"),
                Arguments.of("load-balance, P+D", proxy(pullMode(pD), "script: /opt/load_balance_proxy_server_example.py"),
                        "load-balance"),
                Arguments.of("disagg-epd on loopback before a decode node elsewhere: nothing calls it back",
                        proxy(pullMode(VALID).replace("{name: d0, role: decode, host: local,", "{name: d0, role: decode, host: npu-a,")
                                .replace("{name: p0, role: prefill, host: local,", "{name: p0, role: prefill, host: npu-a,"),
                                disagg), "disagg-epd"),
                Arguments.of("a renamed script of a given kind", proxy(ePd, "script: /opt/proxy.py, kind: disagg-epd"),
                        "disagg-epd"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void reportsTheBrokenRuleWhereItIs(Case c) {
        Path file = TopologyText.write(dir, c.yaml());

        Cli.Result result = Cli.run("validate", file.toString());

        assertThat(result.exitCode()).as(result.toString()).isEqualTo(2);
        String prefix = file + ":" + c.location() + ": " + (c.path().isEmpty() ? "" : c.path() + ": ");
        assertThat(result.err().lines())
                .as(result.toString())
                .anySatisfy(line -> assertThat(line).startsWith(prefix).contains(c.message()));
        assertThat(result.err()).doesNotContain("Exception").doesNotContain("\tat ");
        assertThat(result.out()).isEmpty();
    }

    @Test
    void theValidBaseIsValid() {
        Cli.Result result = Cli.run("validate", TopologyText.write(dir, VALID).toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(result.out()).contains("valid: deployment test, 3 nodes (1 encoder, 1 prefill, 1 decode) on 1 host");
        assertThat(result.err()).as("warnings").contains("host 'npu-a' runs no node and no proxy");
    }

    @Test
    void anIpv6HostAddressIsAWarning() {
        String yaml = replace(VALID, "address: 192.0.2.10", "address: 'fd00::10'");
        Path file = TopologyText.write(dir, yaml);

        Cli.Result result = Cli.run("validate", file.toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(result.err()).contains(file + ":" + locate(yaml, "'fd00::10'") + ": hosts.npu-a.address: warning: fd00::10 is an IPv6 "
                + "address: Mooncake's transfer engine fails on IPv6 (vllm-ascend issue 4103); give the host's IPv4 address");
        assertThat(Cli.run("validate", TopologyText.write(dir, VALID).toString()).err()).doesNotContain("IPv6");
    }

    @Test
    void reportsEveryProblemAtOnce() {
        String yaml = replace(replace(replace(VALID, "user: root", "usr: root"), "role: decode", "role: decoder"),
                "port: 33003", "port: 23001");
        Path file = TopologyText.write(dir, yaml);

        Cli.Result result = Cli.run("validate", file.toString());

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).contains(file + ":" + locate(yaml, "usr") + ": hosts.npu-a.usr: unknown key")
                .contains(file + ":" + locate(yaml, "decoder") + ": nodes[2].role: unknown role")
                .contains(file + ":" + locate(yaml, "23001", 2) + ": nodes[1].port: port 23001")
                .contains("epdctl: " + file + ": 3 errors; nothing was done");
    }

    @Test
    void warnsWithoutFailingWhenTheEncoderIsOnAnotherHostThanItsConsumers() {
        String yaml = replace(VALID, "role: encoder, host: local", "role: encoder, host: npu-a");
        Path file = TopologyText.write(dir, yaml);

        Cli.Result result = Cli.run("validate", file.toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(result.err()).contains(file + ":" + locate(yaml, "local, devices: [1]") + ": nodes[1].host: warning: "
                + "encoders on host 'npu-a' and nodes[1] (p0) on 'local' must see /data/ec_cache as one shared mount");
    }

    @Test
    void warnsWhenTheKvPortMayMeetMooncakeOnAHostOfUnknownSize() {
        Path file = TopologyText.write(dir, replace(VALID, "kv-port: 50001", "kv-port: 30000"));

        Cli.Result result = Cli.run("validate", file.toString());

        assertThat(result.exitCode()).isZero();
        assertThat(result.err()).contains("warning: the KV ports 30000-30000 of nodes[2] (d0) may fall inside the Mooncake "
                + "transfer engine's range (20000 + 1000 per NPU) if host 'local' has more than 3 NPUs");
    }

    @Test
    void reportsFilesThatCannotBeRead() {
        Cli.Result missing = Cli.run("validate", dir.resolve("missing.yaml").toString());
        Cli.Result directory = Cli.run("validate", dir.toString());
        Path empty = TopologyText.write(dir, "");
        Cli.Result emptyFile = Cli.run("validate", empty.toString());

        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).startsWith(dir.resolve("missing.yaml") + ":1:1: no such file");
        assertThat(directory.exitCode()).isEqualTo(2);
        assertThat(directory.err()).contains("is a directory, not a topology file");
        assertThat(emptyFile.exitCode()).isEqualTo(2);
        assertThat(emptyFile.err()).contains(empty + ":1:1: the file is empty");
    }

    @Test
    void warnsOfAnImageOnANodeThatRunsAsAProcess() {
        Path file = TopologyText.write(dir, replace(VALID, "{name: p0, role: prefill, host: local,",
                "{name: p0, role: prefill, host: local, image: vllm-ascend,"));

        Cli.Result result = Cli.run("validate", file.toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        String yaml = replace(VALID, "{name: p0, role: prefill, host: local,", "{name: p0, role: prefill, host: local, image: vllm-ascend,");
        assertThat(result.err()).contains(file + ":" + locate(yaml, "vllm-ascend")
                + ": nodes[1].image: warning: image is only used by runtime: docker, and this node runs as a process");
    }

    @Test
    void aPullModeTopologyIsValidWithItsOwnPortsAndRules() {
        // the decode node may sit on the prefill node's KV port (it binds none), the proxy on loopback while the
        // decoder is elsewhere (nobody calls it back), and a prefill node's own kv-port is its range
        String yaml = replace(replace(replace(PULL, "port: 33006}", "port: 50001}"), "port: 33003}",
                "port: 33003, kv-port: 50100}"), "kv-port: 50001}", "kv-port: 50200}");
        Cli.Result pull = Cli.run("validate", TopologyText.write(dir, yaml).toString());
        Cli.Result resource = Cli.run("validate", "src/test/resources/io/epdctl/topology/pull-1e2p1d.yaml");
        String unknown = replace(VALID, "kv-transfer: {kv-port: 50001}", "kv-transfer: {connector: MooncakeHybridConnector,"
                + " kv-port: 50001}");
        Cli.Result other = Cli.run("validate", TopologyText.write(dir, unknown).toString());

        assertThat(pull.exitCode()).as(pull.toString()).isZero();
        assertThat(pull.err().lines()).as(pull.toString()).allMatch(line -> line.endsWith("runs no node and no proxy"));
        assertThat(resource.exitCode()).as(resource.toString()).isZero();
        assertThat(resource.err()).as("a decoder elsewhere than the loopback proxy is fine in pull mode").doesNotContain("metaserver");
        assertThat(other.exitCode()).as(other.toString()).isZero();
        assertThat(other.err()).contains("kv-transfer.connector: warning: epdctl knows the flows and ports of "
                + "MooncakeLayerwiseConnector", "MooncakeHybridConnector is treated as layerwise");
    }

    @Test
    void everyShippedTopologyIsValid() throws IOException {
        List<String> topologies;
        try (var files = Files.list(Path.of("topologies"))) {
            topologies = files.map(Path::toString).filter(name -> name.endsWith(".yaml")).sorted().toList();
        }
        assertThat(topologies).contains("topologies/1e1pd.yaml", "topologies/1e1p1d.yaml", "topologies/demo-local.yaml",
                "topologies/vllm-ascend-deepseek-r1-pd.yaml", "topologies/vllm-ascend-external-dp-pd.yaml");
        for (String topology : topologies) {
            Cli.Result result = Cli.run("validate", topology);
            assertThat(result.exitCode()).as(result.toString()).isZero();
            assertThat(result.err()).as(topology + " has no warnings").isEmpty();
        }
    }
}
