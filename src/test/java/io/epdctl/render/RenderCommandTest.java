package io.epdctl.render;

import static io.epdctl.testing.CommandRecorder.only;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.testing.Cli;
import io.epdctl.testing.CommandRecorder;
import io.epdctl.testing.CommandRecorder.Call;
import io.epdctl.testing.SystemTest;
import java.nio.file.Files;
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
        String script = Files.readString(scripts.resolve("d0.sh"))
                .replace("/usr/local/Ascend", dir.resolve("usr/local/Ascend").toString());
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
                .containsEntry("SET_ENV_RAN", "yes");
        assertThat(dir.resolve("pwned")).doesNotExist();
        assertThat(Path.of("pwned2")).doesNotExist();
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
