package io.epdctl.render;

import static io.epdctl.testing.CommandRecorder.only;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.testing.Cli;
import io.epdctl.testing.CommandRecorder;
import io.epdctl.testing.CommandRecorder.Call;
import io.epdctl.testing.SystemTest;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.nio.file.Files;
import org.junit.jupiter.api.Assumptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RenderCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Values a shell would split, expand or execute if they were not quoted. */
    private static final String NASTY_MODEL = "/models/My Model's \"v2\" $HOME `touch pwned` $(touch pwned2)";
    private static final String NASTY_ENV = "a b'c\"d $PATH `id` \\n";

    /** Two encoders, two prefill and two decode nodes over three hosts, with tensor and data parallelism. */
    private static final String GENERAL = """
            name: big
            model: "%s"
            served-model-name: "served name"
            hosts:
              here: {address: 10.0.0.1, transport: local}
              npu-a: {address: 10.0.0.2, npus: 16}
              npu-b: {address: 10.0.0.3, npus: 16, user: deploy, ssh-port: 2222}
            vllm:
              env: {TOKENIZERS_PARALLELISM: "false", WEIRD: '%s'}
              setup: ["source /usr/local/Ascend/ascend-toolkit/set_env.sh"]
              args: {max-model-len: 8192, allowed-local-media-path: "/data/my images", enable-prefix-caching: true}
            ec-transfer: {shared-storage-path: /mnt/shared/ec cache}
            kv-transfer: {kv-port: 40000, extra-config: {use_ascend_direct: true}}
            nodes:
              - {name: e0, role: encoder, host: here, devices: [0], port: 23001}
              - {name: e1, role: encoder, host: npu-a, devices: [0], port: 23001}
              - {name: p0, role: prefill, host: npu-a, devices: [1, 2, 3, 4], port: 33003, tensor-parallel-size: 4}
              - {name: p1, role: prefill, host: npu-b, devices: [0, 1, 2, 3], port: 33003, tensor-parallel-size: 4}
              - name: d0
                role: decode
                host: npu-b
                devices: [4, 5, 6, 7]
                port: 33006
                tensor-parallel-size: 2
                data-parallel-size: 2
                args: {max-num-seqs: 16, served-model-name-extra: [a, b]}
              - {name: d1, role: decode, host: npu-b, devices: [8, 9, 10, 11], port: 33007, tensor-parallel-size: 2,
                 data-parallel-size: 2, kv-port: 40004, env: {VLLM_HOST_IP: 10.0.0.3}}
            proxy: {host: here, port: 8001, args: {max-retries: 5}}
            """.formatted(NASTY_MODEL.replace("\\", "\\\\").replace("\"", "\\\""), NASTY_ENV.replace("'", "''"));

    @TempDir
    Path dir;

    private Path topology() throws Exception {
        return Files.writeString(dir.resolve("big.yaml"), GENERAL);
    }

    @Test
    @SystemTest
    void renderedScriptsPassEveryValueAsOneUnchangedArgument() throws Exception {
        Path scripts = dir.resolve("out");
        Cli.Result result = Cli.run("render", "-o", scripts.toString(), topology().toString());
        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(result.err()).contains("wrote e0.sh, e1.sh, p0.sh, p1.sh, d0.sh, d1.sh, proxy.sh to " + scripts);

        CommandRecorder recorder = new CommandRecorder(dir, "vllm", "epdctl", "mkdir", "source");
        Path setupDir = Files.createDirectories(dir.resolve("usr/local/Ascend/ascend-toolkit"));
        Files.writeString(setupDir.resolve("set_env.sh"), "export SET_ENV_RAN=yes\n");
        // The script runs here, not on npu-b: the interface it looks up is the one of this machine's loopback address.
        String script = Files.readString(scripts.resolve("d0.sh"))
                .replace("/usr/local/Ascend", dir.resolve("usr/local/Ascend").toString())
                .replace("awk -v a='10.0.0.3'", "awk -v a='127.0.0.1'");
        Call d0 = only(recorder.run(Files.writeString(dir.resolve("d0-local.sh"), script), Map.of()), "vllm");

        assertThat(d0.argv().subList(0, 2)).containsExactly("serve", NASTY_MODEL);
        assertThat(d0.argv()).containsSequence("--served-model-name", "served name")
                .containsSequence("--allowed-local-media-path", "/data/my images")
                .containsSequence("--tensor-parallel-size", "2")
                .containsSequence("--data-parallel-size", "2")
                .containsSequence("--max-num-seqs", "16")
                .containsSequence("--served-model-name-extra", "a", "b")
                .contains("--enable-prefix-caching")
                .doesNotContain("--no-enable-prefix-caching");
        assertThat(d0.env()).containsEntry("WEIRD", NASTY_ENV)
                .containsEntry("ASCEND_RT_VISIBLE_DEVICES", "4,5,6,7")
                .containsEntry("TOKENIZERS_PARALLELISM", "false")
                .containsEntry("SET_ENV_RAN", "yes")
                .containsEntry("VLLM_HOST_IP", "10.0.0.3")
                .containsEntry("HCCL_IF_IP", "10.0.0.3")
                .containsEntry("GLOO_SOCKET_IFNAME", loopbackInterface())
                .containsEntry("TP_SOCKET_IFNAME", loopbackInterface())
                .containsEntry("HCCL_SOCKET_IFNAME", loopbackInterface());
        assertThat(dir.resolve("pwned")).doesNotExist();
        assertThat(Path.of("pwned2")).doesNotExist();
    }

    @Test
    void networkSettingsAreDerivedFromTheHostsAddressUnlessGivenAndNotForLoopback() throws Exception {
        Path file = Files.writeString(dir.resolve("net.yaml"), """
                name: net
                model: /models/qwen
                served-model-name: qwenvl
                hosts:
                  a: {address: 192.0.2.10, transport: local}
                  b: {address: 192.0.2.11}
                vllm: {env: {HCCL_IF_IP: 10.9.9.9}}
                ec-transfer: {shared-storage-path: /data/ec}
                kv-transfer: {kv-port: 50001}
                nodes:
                  - {name: e0, role: encoder, host: a, devices: [0], port: 23001}
                  - {name: p0, role: prefill, host: a, devices: [1], port: 33003, env: {GLOO_SOCKET_IFNAME: bond0}}
                  - {name: d0, role: decode, host: b, devices: [0], port: 33006}
                proxy: {host: a, port: 8001}
                """);

        Cli.Result result = Cli.run("render", "--format", "json", file.toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        JsonNode nodes = JSON.readTree(result.out()).path("nodes");
        JsonNode d0 = nodes.get(2);
        assertThat(d0.path("env").path("VLLM_HOST_IP").asText()).isEqualTo("192.0.2.11");
        assertThat(d0.path("env").path("HCCL_IF_IP").asText()).as("vllm.env wins").isEqualTo("10.9.9.9");
        assertThat(d0.path("env").has("GLOO_SOCKET_IFNAME")).as("found on the host as the script starts").isFalse();
        assertThat(d0.path("setup").get(0).asText()).isEqualTo("epdctl_if=$(ip -o addr show 2>/dev/null | awk -v a='192.0.2.11' "
                + "'{ split($4, p, \"/\") } p[1] == a { print $2; exit }') && [ -n \"$epdctl_if\" ] || "
                + "{ echo 'epdctl: no network interface of this host carries 192.0.2.11 (ip -o addr)' >&2; exit 1; }");
        assertThat(d0.path("setup").get(1).asText())
                .isEqualTo("export GLOO_SOCKET_IFNAME=\"$epdctl_if\" TP_SOCKET_IFNAME=\"$epdctl_if\" HCCL_SOCKET_IFNAME=\"$epdctl_if\"");
        JsonNode p0 = nodes.get(1);
        assertThat(p0.path("env").path("GLOO_SOCKET_IFNAME").asText()).isEqualTo("bond0");
        assertThat(p0.path("setup").get(1).asText()).isEqualTo("export TP_SOCKET_IFNAME=\"$epdctl_if\" HCCL_SOCKET_IFNAME=\"$epdctl_if\"");
        assertThat(JSON.readTree(result.out()).path("proxy").path("env").has("VLLM_HOST_IP")).as("the proxy is not vLLM").isFalse();

        Cli.Result demo = Cli.run("render", "--format", "json", "topologies/demo-local.yaml");
        assertThat(demo.out()).as("a loopback demo is as it was").doesNotContain("HCCL_IF_IP").doesNotContain("epdctl_if");
    }

    @Test
    void theRestartPolicyIsOnFailureUnlessTheVllmSectionOrTheNodeSaysOtherwise() throws Exception {
        String yaml = """
                name: policies
                model: /models/qwen
                served-model-name: qwenvl
                hosts: {a: {address: 127.0.0.1}}
                %s
                ec-transfer: {shared-storage-path: /data/ec}
                nodes:
                  - {name: e0, role: encoder, host: a, devices: [0], port: 23001}
                  - {name: pd0, role: pd, host: a, devices: [1], port: 33003, restart: %s}
                proxy: {host: a, port: 8001%s}
                """;
        JsonNode defaults = JSON.readTree(Cli.run("render", "--format", "json",
                Files.writeString(dir.resolve("defaults.yaml"), yaml.formatted("", "on-failure", "")).toString()).out());
        JsonNode vllmNever = JSON.readTree(Cli.run("render", "--format", "json",
                Files.writeString(dir.resolve("never.yaml"), yaml.formatted("vllm: {restart: never}", "on-failure",
                        ", restart: never")).toString()).out());

        assertThat(defaults.path("nodes").findValuesAsText("restart")).containsExactly("on-failure", "on-failure");
        assertThat(defaults.path("proxy").path("restart").asText()).isEqualTo("on-failure");
        assertThat(vllmNever.path("nodes").findValuesAsText("restart")).as("pd0 sets its own").containsExactly("never", "on-failure");
        assertThat(vllmNever.path("proxy").path("restart").asText()).isEqualTo("never");
    }

    @Test
    @SystemTest
    void theRenderedScriptFindsTheInterfaceOfItsHostsAddressOrStops() throws Exception {
        InetAddress address = nonLoopbackIpv4();
        Assumptions.assumeTrue(address != null, "this machine has no non-loopback IPv4 address");
        String ip = address.getHostAddress();
        Path file = Files.writeString(dir.resolve("here.yaml"), """
                name: here
                model: /models/qwen
                served-model-name: qwenvl
                hosts:
                  here: {address: %s, transport: local}
                  gone: {address: 192.0.2.254, transport: local}
                ec-transfer: {shared-storage-path: %s}
                nodes:
                  - {name: e0, role: encoder, host: here, devices: [0], port: 23001}
                  - {name: pd0, role: pd, host: gone, devices: [1], port: 33003}
                proxy: {host: here, port: 8001}
                """.formatted(ip, dir.resolve("ec")));
        Path scripts = dir.resolve("out");
        assertThat(Cli.run("render", "-o", scripts.toString(), file.toString()).exitCode()).isZero();
        CommandRecorder recorder = new CommandRecorder(dir, "vllm");

        Call e0 = only(recorder.run(scripts.resolve("e0.sh"), Map.of()), "vllm");

        String name = NetworkInterface.getByInetAddress(address).getName();
        assertThat(e0.env()).containsEntry("VLLM_HOST_IP", ip).containsEntry("HCCL_IF_IP", ip)
                .containsEntry("GLOO_SOCKET_IFNAME", name).containsEntry("TP_SOCKET_IFNAME", name)
                .containsEntry("HCCL_SOCKET_IFNAME", name);
        if (NetworkInterface.getByInetAddress(InetAddress.getByName("192.0.2.254")) == null) {
            assertThatThrownBy(() -> recorder.run(scripts.resolve("pd0.sh"), Map.of()))
                    .hasMessageContaining("exited 1").hasMessageContaining("epdctl: no network interface of this host carries 192.0.2.254");
        }
    }

    private static InetAddress nonLoopbackIpv4() throws Exception {
        for (NetworkInterface network : java.util.Collections.list(NetworkInterface.getNetworkInterfaces())) {
            for (InetAddress address : java.util.Collections.list(network.getInetAddresses())) {
                if (address instanceof java.net.Inet4Address && !address.isLoopbackAddress() && network.isUp()) {
                    return address;
                }
            }
        }
        return null;
    }

    private static String loopbackInterface() throws Exception {
        return NetworkInterface.getByInetAddress(InetAddress.getByName("127.0.0.1")).getName();
    }

    @Test
    void derivesRolesEngineIdsParallelBlocksAndProxyLists() throws Exception {
        Cli.Result result = Cli.run("render", "--format", "json", topology().toString());
        assertThat(result.exitCode()).as(result.toString()).isZero();
        JsonNode deployment = JSON.readTree(result.out());

        assertThat(deployment.get("deployment").asText()).isEqualTo("big");
        List<String> engineIds = new ArrayList<>();
        for (JsonNode node : deployment.get("nodes")) {
            List<String> argv = strings(node.get("argv"));
            String role = node.get("role").asText();
            JsonNode ec = config(argv, "--ec-transfer-config");
            JsonNode kv = config(argv, "--kv-transfer-config");
            switch (role) {
                case "encoder" -> {
                    assertThat(ec.get("ec_role").asText()).isEqualTo("ec_producer");
                    assertThat(kv).isNull();
                    assertThat(argv).containsSequence("--gpu-memory-utilization", "0.01").contains("--enforce-eager");
                }
                case "prefill", "decode" -> {
                    assertThat(kv.get("kv_role").asText()).isEqualTo(role.equals("prefill") ? "kv_producer" : "kv_consumer");
                    assertThat(kv.get("kv_connector_extra_config").toString())
                            .isEqualTo("{\"use_ascend_direct\":true,\"prefill\":{\"dp_size\":1,\"tp_size\":4},"
                                    + "\"decode\":{\"dp_size\":2,\"tp_size\":2}}");
                    engineIds.add(kv.get("engine_id").asText());
                    assertThat(ec == null).isEqualTo(role.equals("decode"));
                }
                default -> throw new AssertionError("role " + role);
            }
            if (!role.equals("decode")) {
                assertThat(ec.get("ec_connector_extra_config").get("shared_storage_path").asText())
                        .isEqualTo("/mnt/shared/ec cache");
                assertThat(strings(node.get("directories"))).containsExactly("/mnt/shared/ec cache");
            }
        }
        assertThat(engineIds).containsExactly("0", "1", "2", "3");
        JsonNode d1 = deployment.get("nodes").get(5);
        assertThat(config(strings(d1.get("argv")), "--kv-transfer-config").get("kv_port").asInt()).isEqualTo(40004);
        assertThat(d1.get("env").get("VLLM_HOST_IP").asText()).isEqualTo("10.0.0.3");
        // What each node listens on: its HTTP port, and on a decode node one KV port per rank (tp 2 x dp 2).
        assertThat(d1.get("listeners").toString()).isEqualTo("[{\"kind\":\"HTTP\",\"first\":33007,\"last\":33007},"
                + "{\"kind\":\"KV\",\"first\":40004,\"last\":40007}]");
        assertThat(deployment.get("nodes").get(4).get("listeners").get(1).toString())
                .isEqualTo("{\"kind\":\"KV\",\"first\":40000,\"last\":40003}");
        assertThat(deployment.get("nodes").get(2).get("listeners").size()).isEqualTo(1);
        assertThat(d1.get("port").asInt()).isEqualTo(33007);
        assertThat(strings(d1.get("devices"))).containsExactly("8", "9", "10", "11");

        JsonNode proxy = deployment.get("proxy");
        assertThat(proxy.get("address").asText()).isEqualTo("10.0.0.1");
        assertThat(strings(proxy.get("argv"))).containsExactly("epdctl", "proxy", "--host", "10.0.0.1", "--port", "8001",
                "--encoder-hosts", "10.0.0.1", "10.0.0.2", "--encoder-ports", "23001", "23001",
                "--prefiller-hosts", "10.0.0.2", "10.0.0.3", "--prefiller-ports", "33003", "33003",
                "--decoder-hosts", "10.0.0.3", "10.0.0.3", "--decoder-ports", "33006", "33007",
                "--max-retries", "5");
    }

    /**
     * MooncakeConnectorV1 as its deployment guide configures it (kv_connector, kv_role, kv_port, engine_id, both
     * parallel blocks), with the ports on the side that binds them: each prefill node listens on its handshake
     * range and is told its own first port; the decode node binds none and is told the deployment's.
     */
    @Test
    void pullModeRendersTheConnectorsConfigWithThePrefillSideListening() throws Exception {
        Cli.Result result = Cli.run("render", "--format", "json", "src/test/resources/io/epdctl/topology/pull-1e2p1d.yaml");
        assertThat(result.exitCode()).as(result.toString()).isZero();
        JsonNode nodes = JSON.readTree(result.out()).get("nodes");

        List<String> configs = new ArrayList<>();
        List<String> listeners = new ArrayList<>();
        for (JsonNode node : nodes) {
            JsonNode kv = config(strings(node.get("argv")), "--kv-transfer-config");
            configs.add(kv == null ? null : kv.toString());
            listeners.add(node.get("listeners").toString());
        }
        String blocks = "\"kv_connector_extra_config\":{\"prefill\":{\"dp_size\":1,\"tp_size\":2},"
                + "\"decode\":{\"dp_size\":1,\"tp_size\":1}}}";
        assertThat(configs).containsExactly(null,
                "{\"kv_connector\":\"MooncakeConnectorV1\",\"kv_role\":\"kv_producer\",\"kv_port\":30000,\"engine_id\":\"0\","
                        + blocks,
                "{\"kv_connector\":\"MooncakeConnectorV1\",\"kv_role\":\"kv_producer\",\"kv_port\":30010,\"engine_id\":\"1\","
                        + blocks,
                "{\"kv_connector\":\"MooncakeConnectorV1\",\"kv_role\":\"kv_consumer\",\"kv_port\":30000,\"engine_id\":\"2\","
                        + blocks);
        assertThat(listeners).containsExactly("[{\"kind\":\"HTTP\",\"first\":23001,\"last\":23001}]",
                "[{\"kind\":\"HTTP\",\"first\":33003,\"last\":33003},{\"kind\":\"KV\",\"first\":30000,\"last\":30001}]",
                "[{\"kind\":\"HTTP\",\"first\":33004,\"last\":33004},{\"kind\":\"KV\",\"first\":30010,\"last\":30011}]",
                "[{\"kind\":\"HTTP\",\"first\":33006,\"last\":33006}]");
        assertThat(strings(JSON.readTree(result.out()).get("proxy").get("argv"))).endsWith("--kv-flow", "pull");
    }

    @Test
    void printedScriptsAreTheWrittenOnes() throws Exception {
        Path scripts = dir.resolve("out");
        assertThat(Cli.run("render", "-o", scripts.toString(), topology().toString()).exitCode()).isZero();

        Cli.Result printed = Cli.run("render", topology().toString());

        assertThat(printed.exitCode()).isZero();
        for (String name : List.of("e0.sh", "p1.sh", "d1.sh", "proxy.sh")) {
            assertThat(printed.out()).contains("# ==> " + name + " <==\n" + Files.readString(scripts.resolve(name)));
        }
    }

    @Test
    void usesTheOperatorsTemplates() throws Exception {
        Path templates = Files.createDirectories(dir.resolve("templates"));
        Files.writeString(templates.resolve("node.sh"), "#!/bin/sh\nulimit -n 65536\n{{exports}}\nexec {{command}}\n");
        Files.writeString(templates.resolve("proxy.sh"), "#!/bin/sh\n# {{name}} on {{host}}\nexec {{command}}\n");

        Cli.Result result = Cli.run("render", "-t", templates.toString(), "topologies/1e1pd.yaml");

        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(result.out()).contains("# ==> e0.sh <==\n#!/bin/sh\nulimit -n 65536\nexport ASCEND_RT_VISIBLE_DEVICES='0'\n"
                + "exec 'vllm' 'serve'").contains("# ==> proxy.sh <==\n#!/bin/sh\n# proxy on local\nexec 'python3'");
    }

    @Test
    void refusesUnusableTemplatesAndConflictingOptions() throws Exception {
        Path templates = Files.createDirectories(dir.resolve("templates"));
        Files.writeString(templates.resolve("node.sh"), "exec {{comand}}\n");
        Files.writeString(templates.resolve("proxy.sh"), "exec {{command}}\n");

        Cli.Result badPlaceholder = Cli.run("render", "-t", templates.toString(), "topologies/1e1pd.yaml");
        Cli.Result missingTemplates = Cli.run("render", "-t", dir.resolve("none").toString(), "topologies/1e1pd.yaml");
        Cli.Result conflict = Cli.run("render", "-o", dir.toString(), "--format", "json", "topologies/1e1pd.yaml");
        Cli.Result badFormat = Cli.run("render", "--format", "yaml", "topologies/1e1pd.yaml");

        assertThat(badPlaceholder.exitCode()).isEqualTo(2);
        assertThat(badPlaceholder.err()).contains("node.sh: unknown placeholder {{comand}}");
        assertThat(missingTemplates.exitCode()).isEqualTo(2);
        assertThat(missingTemplates.err()).contains("no such template");
        assertThat(conflict.exitCode()).isEqualTo(2);
        assertThat(conflict.err()).contains("--output-dir writes scripts; it does not go with --format json");
        assertThat(badFormat.exitCode()).isEqualTo(2);
        assertThat(badFormat.err()).contains("--format");
    }

    @Test
    void anInvalidTopologyRendersNothing() throws Exception {
        Path file = Files.writeString(dir.resolve("bad.yaml"), GENERAL.replace("port: 33007", "port: 33006"));
        Path scripts = dir.resolve("out");

        Cli.Result result = Cli.run("render", "-o", scripts.toString(), file.toString());

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).contains("nodes[5].port: port 33006 of nodes[5] (d1) on host 10.0.0.3 overlaps");
        assertThat(scripts).doesNotExist();
    }


    private static List<String> strings(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(value -> values.add(value.asText()));
        return values;
    }

    private static JsonNode config(List<String> argv, String flag) throws Exception {
        int at = argv.indexOf(flag);
        return at < 0 ? null : JSON.readTree(argv.get(at + 1));
    }
}
