package io.epdctl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.testing.Cli;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** epdctl plan through the real command line, where nothing is recorded: what it prints and its exit codes. */
class PlanCommandTest {
    @TempDir
    Path dir;

    @Test
    void aDeploymentNeverStartedPlansToStartEverythingAndExits3() {
        Cli.Result plan = Cli.run("plan", "topologies/demo-local.yaml", "--state-dir", dir.toString());

        assertThat(plan.exitCode()).as(plan.toString()).isEqualTo(ExitCodes.CHANGES);
        assertThat(plan.out()).isEqualTo("""
                start e0 (encoder on local): new
                start p0 (prefill on local): new
                start d0 (decode on local): new
                start proxy (proxy on local): new
                EC directory /tmp/epdctl-demo/ec_cache: emptied on local
                roles briefly without a backend: none
                proxy: started
                """);
        assertThat(plan.err()).isEmpty();
        assertThat(dir).as("plan writes no state").isEmptyDirectory();
    }

    @Test
    void jsonSaysTheSame() throws Exception {
        Cli.Result plan = Cli.run("plan", "topologies/demo-local.yaml", "-o", "json", "--state-dir", dir.toString());

        assertThat(plan.exitCode()).as(plan.toString()).isEqualTo(ExitCodes.CHANGES);
        JsonNode json = new ObjectMapper().readTree(plan.out());
        assertThat(json.path("deployment").asText()).isEqualTo("demo-local");
        assertThat(json.path("changes").asBoolean()).isTrue();
        assertThat(json.path("rows")).hasSize(4);
        assertThat(json.path("rows").get(3).toString())
                .isEqualTo("{\"action\":\"start\",\"name\":\"proxy\",\"role\":\"proxy\",\"host\":\"local\",\"reason\":\"new\"}");
        assertThat(json.path("ec").toString()).isEqualTo("{\"local\":\"emptied\"}");
        assertThat(json.path("rolesWithoutBackend").toString()).isEqualTo("[]");
        assertThat(json.path("proxy").asText()).isEqualTo("started");
    }

    @Test
    void anInvalidFileExits2AndAMissingOneToo() {
        Cli.Result missing = Cli.run("plan", dir.resolve("missing.yaml").toString(), "--state-dir", dir.toString());

        assertThat(missing.exitCode()).as(missing.toString()).isEqualTo(ExitCodes.INVALID_INPUT);
        assertThat(missing.err()).contains("missing.yaml");
        assertThat(missing.out()).isEmpty();
    }

    @Test
    void upDryRunPrintsThePlanAndTheScriptsOnlyWithScripts() {
        Cli.Result dry = Cli.run("up", "topologies/demo-local.yaml", "--dry-run", "--state-dir", dir.toString());

        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.out()).startsWith("# epdctl up --dry-run: deployment demo-local; nothing was changed.\n"
                + "start e0 (encoder on local): new\n").contains("proxy: started\n").doesNotContain("# ==> ");
        Cli.Result scripts = Cli.run("up", "topologies/demo-local.yaml", "--dry-run", "--scripts", "--state-dir", dir.toString());
        assertThat(scripts.out()).contains("start e0 (encoder on local): new\n", "# ==> e0 (encoder) on host local");
        Cli.Result notDry = Cli.run("up", "topologies/demo-local.yaml", "--scripts", "--state-dir", dir.toString());
        assertThat(notDry.exitCode()).isEqualTo(ExitCodes.INVALID_INPUT);
        assertThat(notDry.err()).contains("--scripts is an option of --dry-run");
        assertThat(dir).isEmptyDirectory();
    }
}
