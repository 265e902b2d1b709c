package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.state.StateStore;
import io.epdctl.testing.Cli;
import io.epdctl.testing.SimDeployment;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A MooncakeConnectorV1 (pull mode) deployment on this machine, started by epdctl: vllm-sim nodes whose
 * prefillers bind the handshake ports, and the built-in proxy told --kv-flow pull. It answers an image request
 * through the proxy, the decoder pulling each KV cache from a prefiller, and goes down leaving nothing.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class PullModeLifecycleIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void upServesAnImageRequestThroughThePullFlowThenDownLeavesNothing() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).kvConnector("MooncakeConnectorV1").shape(1, 2, 1).write()) {
            Cli.Result validate = Cli.run("validate", deployment.file().toString());
            assertThat(validate.exitCode()).as(validate.toString()).isZero();
            Cli.Result render = Cli.run("render", "--format", "json", deployment.file().toString());
            JsonNode rendered = JSON.readTree(render.out());
            assertThat(rendered.at("/proxy/argv").toString()).endsWith(",\"--kv-flow\",\"pull\"]");
            assertThat(rendered.at("/nodes/1/listeners/1/kind").asText()).as("p0 binds its handshake ports").isEqualTo("KV");
            assertThat(rendered.at("/nodes/3/listeners").size()).as("d0 binds only its HTTP port").isEqualTo(1);

            Cli.Result up = deployment.up();

            assertThat(up.exitCode()).as(up.toString()).isZero();
            assertThat(up.err()).contains("e0: ready", "p0: ready", "p1: ready", "d0: ready", "proxy: ready",
                    "test request through the proxy (text and an image): answered");

            HttpResponse<String> image = LocalLifecycleIT.post(deployment.proxyUrl(), SmokeRequest.chatBody("simvl"));
            assertThat(image.statusCode()).as(image.body()).isEqualTo(200);
            assertThat(JSON.readTree(image.body()).at("/choices/0/message/content").asText()).isNotBlank();
            String id = image.headers().firstValue("x-request-id").orElseThrow();

            Cli.Result decodeLog = deployment.epdctl("logs", "d0", "-n", "500");
            assertThat(decodeLog.out()).contains("Pulled KV of chatcmpl-" + id);
            Cli.Result prefillLogs = deployment.epdctl("logs", "-n", "500"); // every process: the request went to p0 or p1
            assertThat(prefillLogs.out()).contains("Delaying free of", "for request chatcmpl-" + id);
            Cli.Result proxyLog = deployment.epdctl("logs", "proxy", "-n", "200");
            assertThat(proxyLog.out()).contains("1 encoder, 2 prefill, 1 decode backends, KV flow pull");

            Cli.Result status = deployment.epdctl("status", "--json");
            assertThat(status.exitCode()).as(status.toString()).isZero();
            JsonNode rows = JSON.readTree(status.out()).path("processes");
            assertThat(rows).hasSize(5);
            rows.forEach(row -> assertThat(row.path("state").asText()).as(row.toString()).isEqualTo("ready"));
            Cli.Result check = deployment.epdctl("check", deployment.file().toString());
            assertThat(check.exitCode()).as("its own handshake ports are its own: " + check).isZero();

            Cli.Result down = deployment.epdctl("down");
            assertThat(down.exitCode()).as(down.toString()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
            assertThat(new StateStore(deployment.stateDir()).deployments()).isEmpty();
        }
    }
}
