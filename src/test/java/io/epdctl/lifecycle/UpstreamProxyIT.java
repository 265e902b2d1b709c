package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.state.StateStore;
import io.epdctl.testing.Cli;
import io.epdctl.testing.SimDeployment;
import io.epdctl.testing.UpstreamScripts;
import io.epdctl.topology.KvTransfer;
import io.epdctl.topology.ProxyKind;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each upstream proxy script, unmodified, in front of vllm-sim nodes, started by {@code epdctl up} from a topology
 * that names the script: it comes up, answers a request with an image through every role of its layout, and
 * {@code epdctl down} leaves no process. The scripts are not in this repository: each case is skipped, saying why,
 * unless {@value UpstreamScripts#DIRECTORY_VARIABLE} names a directory holding the script and Debian's Python has
 * its packages (docs/development.md).
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class UpstreamProxyIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** HTTP/1.1: uvicorn refuses the JDK's default h2c upgrade ("Unsupported upgrade request."). */
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .proxy(HttpClient.Builder.NO_PROXY).build();

    @TempDir
    Path dir;

    /** A layout: the roles it has, and what each node must have counted once a request with an image went through. */
    enum Layout {
        E_PD, E_P_D, P_D
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("epd-layerwise, E+PD", ProxyKind.EPD_LAYERWISE, Layout.E_PD),
                Arguments.of("epd-layerwise, E+P+D (layerwise push)", ProxyKind.EPD_LAYERWISE, Layout.E_P_D),
                Arguments.of("disagg-epd, E+PD (--prefill-servers-urls disable)", ProxyKind.DISAGG_EPD, Layout.E_PD),
                Arguments.of("disagg-epd, E+P+D (pull)", ProxyKind.DISAGG_EPD, Layout.E_P_D),
                Arguments.of("load-balance, P+D without encoders (pull)", ProxyKind.LOAD_BALANCE, Layout.P_D));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void upServesAnImageThroughTheScriptAndDownLeavesNothing(String label, ProxyKind kind, Layout layout) throws Exception {
        Optional<String> missing = UpstreamScripts.missing(kind);
        // the reason in the build's output too, not only in the report: a skip must not pass for a run
        missing.ifPresent(why -> System.err.println("UpstreamProxyIT: " + label + " skipped: " + why));
        Assumptions.assumeTrue(missing.isEmpty(), () -> label + " skipped: " + missing.orElseThrow());
        Path script = UpstreamScripts.script(kind).orElseThrow();
        Path launcher = UpstreamScripts.launcher(UpstreamScripts.writeShims(dir.resolve("shims")), UpstreamScripts.python());
        SimDeployment.Builder builder = SimDeployment.builder(dir.resolve("deployment")).scriptProxy(script, null, launcher);
        if (layout == Layout.E_PD) {
            builder.combinedPrefillDecode();
        } else if (layout == Layout.P_D) {
            builder.withoutEncoders().kvConnector(KvTransfer.PULL_CONNECTOR);
        } else if (kind.prefillFirst()) {
            builder.kvConnector(KvTransfer.PULL_CONNECTOR);
        }
        try (SimDeployment deployment = builder.write()) {
            Cli.Result up = deployment.up();

            assertThat(up.exitCode()).as(up.toString()).isZero();
            assertThat(up.err()).contains("proxy: ready", "test request through the proxy (text and an image): answered");
            assertThat(deployment.describeProcesses()).as("the script runs, by its launcher").contains(script.toString());

            HttpResponse<String> answer = HTTP.send(HttpRequest.newBuilder(URI.create(deployment.proxyUrl() + "/v1/chat/completions"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(SmokeRequest.chatBody("simvl"))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
            assertThat(JSON.readTree(answer.body()).at("/choices/0/message/content").asText()).as(answer.body()).isNotBlank();
            for (String[] counted : expectedCounts(kind, layout)) {
                assertThat(metric(deployment, counted[0], counted[1]))
                        .as(counted[0] + " " + counted[1] + " after two requests with an image")
                        .isGreaterThanOrEqualTo(2);
            }

            Cli.Result status = deployment.epdctl("status", "--json");
            assertThat(status.exitCode()).as(status.toString()).isZero();
            JsonNode rows = JSON.readTree(status.out()).path("processes");
            rows.forEach(row -> assertThat(row.path("state").asText()).as(row.toString()).isEqualTo("ready"));

            Cli.Result down = deployment.epdctl("down");
            assertThat(down.exitCode()).as(down.toString()).isZero();
            assertThat(down.err()).contains("proxy: stopped by SIGTERM", "is down");
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
            assertThat(new StateStore(deployment.stateDir()).deployments()).isEmpty();
        }
    }

    /**
     * A script proxy cannot take new backends while it runs: a change of them restarts it, the plan says so, and the
     * restarted script serves through the moved node.
     */
    @org.junit.jupiter.api.Test
    void aChangeOfItsBackendsRestartsTheDisaggEpdProxyAndThePlanSaysSo() throws Exception {
        ProxyKind kind = ProxyKind.DISAGG_EPD;
        Optional<String> missing = UpstreamScripts.missing(kind);
        missing.ifPresent(why -> System.err.println("UpstreamProxyIT: backend change skipped: " + why));
        Assumptions.assumeTrue(missing.isEmpty(), () -> "backend change skipped: " + missing.orElseThrow());
        Path launcher = UpstreamScripts.launcher(UpstreamScripts.writeShims(dir.resolve("shims")), UpstreamScripts.python());
        try (SimDeployment deployment = SimDeployment.builder(dir.resolve("deployment")).combinedPrefillDecode()
                .scriptProxy(UpstreamScripts.script(kind).orElseThrow(), null, launcher).write()) {
            Cli.Result up = deployment.up();
            assertThat(up.exitCode()).as(up.toString()).isZero();

            int before = deployment.port("pd0");
            int after = io.epdctl.testing.FreePorts.pick();
            String yaml = java.nio.file.Files.readString(deployment.file());
            java.nio.file.Files.writeString(deployment.file(), yaml.replace("port: " + before + "}", "port: " + after + "}"));

            Cli.Result plan = deployment.epdctl("plan", deployment.file().toString());
            assertThat(plan.exitCode()).as(plan.toString()).isEqualTo(3);
            assertThat(plan.out()).contains("restart proxy (proxy on local): --decode-servers-urls http://127.0.0.1:"
                    + before + " -> http://127.0.0.1:" + after, "proxy: restarted; its endpoint is briefly unavailable");

            Cli.Result again = deployment.up();
            assertThat(again.exitCode()).as(again.toString()).isZero();
            assertThat(again.err()).contains("proxy: ready", "test request through the proxy (text and an image): answered");
            assertThat(deployment.describeProcesses()).contains("--decode-servers-urls http://127.0.0.1:" + after);

            assertThat(deployment.epdctl("down").exitCode()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    /** Node and counter pairs that show each node's part in a request with an image (up's test request and ours). */
    private static List<String[]> expectedCounts(ProxyKind kind, Layout layout) {
        List<String[]> counts = new java.util.ArrayList<>();
        if (layout != Layout.P_D) {
            counts.add(new String[] {"e0", "vllm_sim:ec_cache_saves_total"});
        }
        switch (layout) {
            case E_PD -> counts.add(new String[] {"pd0", "vllm_sim:ec_cache_hits_total"});
            case E_P_D -> counts.add(new String[] {"p0", "vllm_sim:ec_cache_hits_total"});
            case P_D -> counts.add(new String[] {"p0", "vllm:request_success_total"});
        }
        if (layout != Layout.E_PD) {
            counts.add(new String[] {"d0", "vllm:request_success_total"});
        }
        if (layout != Layout.E_PD && !kind.prefillFirst()) {
            // the layerwise flow: the decode node called the script's metaserver, the prefill node pushed the KV cache
            counts.add(new String[] {"d0", "vllm_sim:kv_metaserver_callbacks_total"});
            counts.add(new String[] {"p0", "vllm_sim:kv_pushes_sent_total"});
        } else if (layout != Layout.E_PD) {
            // the pull flow: the prefill node answered first, the decode node pulled the KV cache from it
            counts.add(new String[] {"d0", "vllm_sim:kv_pulls_total"});
            counts.add(new String[] {"p0", "vllm_sim:kv_pull_shares_served_total"});
        }
        return counts;
    }

    private static double metric(SimDeployment deployment, String node, String series) throws Exception {
        String text = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + deployment.port(node) + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        Matcher matcher = Pattern.compile("(?m)^" + Pattern.quote(series) + "(\\{[^}]*\\})? (\\S+)$").matcher(text);
        assertThat(matcher.find()).as(series + " in the metrics of " + node + ":\n" + text).isTrue();
        return Double.parseDouble(matcher.group(2));
    }
}
