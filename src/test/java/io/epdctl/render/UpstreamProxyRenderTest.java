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
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each upstream proxy is told its backends as its own launch script tells it (vLLM's disagg_1e1pd_example.sh and
 * vLLM-Ascend's disagg_1e1p1d_example.sh for disagg-epd, the EPD guide for epd-layerwise, the usage of
 * load_balance_proxy_server_example.py), in file order across hosts, and is probed at its own route.
 */
class UpstreamProxyRenderTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static String topology(String kv, String nodes, String proxy) {
        return """
                name: up
                model: /models/qwen
                served-model-name: qwenvl
                hosts:
                  a: {address: 10.0.0.1, transport: local}
                  b: {address: 10.0.0.2}
                ec-transfer: {shared-storage-path: /data/ec_cache}
                %snodes:
                %sproxy: {host: a, port: 8001, python: /usr/bin/python3, %s}
                """.formatted(kv, nodes, proxy);
    }

    private static final String E_PD = """
              - {name: e0, role: encoder, host: a, devices: [0], port: 23001}
              - {name: e1, role: encoder, host: b, devices: [0], port: 23002}
              - {name: pd0, role: pd, host: a, devices: [1], port: 33003}
              - {name: pd1, role: pd, host: b, devices: [1], port: 33004}
            """;
    private static final String E_P_D = """
              - {name: e0, role: encoder, host: a, devices: [0], port: 23001}
              - {name: p0, role: prefill, host: a, devices: [1], port: 33003}
              - {name: p1, role: prefill, host: b, devices: [1], port: 33004}
              - {name: d0, role: decode, host: b, devices: [2], port: 33006}
            """;
    private static final String P_D = """
              - {name: p0, role: prefill, host: a, devices: [1], port: 33003}
              - {name: d0, role: decode, host: b, devices: [2], port: 33006}
              - {name: d1, role: decode, host: b, devices: [3], port: 33007}
            """;
    private static final String PULL = "kv-transfer: {connector: MooncakeConnectorV1, kv-port: 50001}\n";
    private static final String LAYERWISE = "kv-transfer: {kv-port: 50001}\n";

    static Stream<Arguments> cases() {
        String layerwise = "script: /opt/epd_load_balance_proxy_layerwise_server_example.py";
        String disagg = "script: /opt/disagg_epd_proxy.py";
        return Stream.of(
                Arguments.of("epd-layerwise, E+PD", topology("", E_PD, layerwise),
                        "/opt/epd_load_balance_proxy_layerwise_server_example.py --host 10.0.0.1 --port 8001"
                                + " --encoder-hosts 10.0.0.1 10.0.0.2 --encoder-ports 23001 23002"
                                + " --pd-hosts 10.0.0.1 10.0.0.2 --pd-ports 33003 33004", "/healthcheck"),
                Arguments.of("epd-layerwise, E+P+D", topology(LAYERWISE, E_P_D, layerwise),
                        "/opt/epd_load_balance_proxy_layerwise_server_example.py --host 10.0.0.1 --port 8001"
                                + " --encoder-hosts 10.0.0.1 --encoder-ports 23001"
                                + " --prefiller-hosts 10.0.0.1 10.0.0.2 --prefiller-ports 33003 33004"
                                + " --decoder-hosts 10.0.0.2 --decoder-ports 33006", "/healthcheck"),
                Arguments.of("disagg-epd, E+PD, a pd node of one process per rank over two hosts: each rank a backend",
                        topology("", """
                                  - {name: e0, role: encoder, host: a, devices: [0], port: 23001}
                                  - {name: pd0, role: pd, hosts: [{host: a, devices: [1]}, {host: b, devices: [1]}], port: 33003,
                                     data-parallel-rpc-port: 13389, data-parallel-mode: external}
                                """, disagg),
                        "/opt/disagg_epd_proxy.py --host 10.0.0.1 --port 8001"
                                + " --encode-servers-urls http://10.0.0.1:23001"
                                + " --prefill-servers-urls disable"
                                + " --decode-servers-urls http://10.0.0.1:33003,http://10.0.0.2:33004", "/health"),
                Arguments.of("disagg-epd, E+PD: prefill disabled, the pd nodes decode", topology("", E_PD, disagg),
                        "/opt/disagg_epd_proxy.py --host 10.0.0.1 --port 8001"
                                + " --encode-servers-urls http://10.0.0.1:23001,http://10.0.0.2:23002"
                                + " --prefill-servers-urls disable"
                                + " --decode-servers-urls http://10.0.0.1:33003,http://10.0.0.2:33004", "/health"),
                Arguments.of("disagg-epd, E+P+D", topology(PULL, E_P_D, disagg + ", args: {encoder-dispatch-mode: fanout}"),
                        "/opt/disagg_epd_proxy.py --host 10.0.0.1 --port 8001"
                                + " --encode-servers-urls http://10.0.0.1:23001"
                                + " --prefill-servers-urls http://10.0.0.1:33003,http://10.0.0.2:33004"
                                + " --decode-servers-urls http://10.0.0.2:33006 --encoder-dispatch-mode fanout", "/health"),
                Arguments.of("load-balance, P+D", topology(PULL, P_D, "script: /srv/lb.py, kind: load-balance"),
                        "/srv/lb.py --host 10.0.0.1 --port 8001"
                                + " --prefiller-hosts 10.0.0.1 --prefiller-ports 33003"
                                + " --decoder-hosts 10.0.0.2 10.0.0.2 --decoder-ports 33006 33007", "/healthcheck"),
                Arguments.of("the built-in proxy", topology(LAYERWISE, E_P_D, "command: epdctl"),
                        "proxy --host 10.0.0.1 --port 8001 --encoder-hosts 10.0.0.1 --encoder-ports 23001"
                                + " --prefiller-hosts 10.0.0.1 10.0.0.2 --prefiller-ports 33003 33004"
                                + " --decoder-hosts 10.0.0.2 --decoder-ports 33006", "/health"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void eachProxyGetsItsBackendsAsItsLaunchScriptGivesThem(String label, String yaml, String argv, String readiness)
            throws Exception {
        Path file = Files.writeString(dir.resolve("up.yaml"), yaml);

        Cli.Result result = Cli.run("render", "--format", "json", file.toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        JsonNode proxy = JSON.readTree(result.out()).path("proxy");
        List<String> rendered = new ArrayList<>();
        proxy.path("argv").forEach(arg -> rendered.add(arg.asText()));
        assertThat(String.join(" ", rendered.subList(1, rendered.size()))).isEqualTo(argv);
        assertThat(proxy.path("readiness").asText()).isEqualTo(readiness);
        JsonNode nodes = JSON.readTree(result.out()).path("nodes");
        nodes.forEach(node -> assertThat(node.has("readiness")).as("nodes are probed by /health and /v1/models").isFalse());
    }

    @org.junit.jupiter.api.Test
    void prefillNodesWithoutEncodersGetNoEcTransferConfig() throws Exception {
        Path file = Files.writeString(dir.resolve("up.yaml"),
                topology(PULL, P_D, "script: /opt/load_balance_proxy_server_example.py"));

        Cli.Result result = Cli.run("render", "--format", "json", file.toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        JsonNode prefill = JSON.readTree(result.out()).path("nodes").get(0);
        assertThat(prefill.path("name").asText()).isEqualTo("p0");
        assertThat(prefill.path("argv").toString()).doesNotContain("--ec-transfer-config").contains("--kv-transfer-config");
        assertThat(prefill.path("directories")).isEmpty();
    }
}
