package io.epdctl.sim;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.SimNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bin/vllm-sim as a topology runs it, on the jar `mvn package` built. */
class SimLauncherIT {
    @TempDir
    Path dir;

    @Test
    void servesThroughTheLauncher() {
        try (SimNode node = SimNode.builder(dir).viaLauncher().flags("--served-model-name", "qwenvl").start()) {
            assertThat(Http.get(node.baseUrl() + "/health").statusCode()).isEqualTo(200);
            assertThat(Http.json(Http.get(node.baseUrl() + "/v1/models")).path("data").get(0).path("id").asText())
                    .isEqualTo("qwenvl");
            // the launcher execs java: the simulator is the launched process itself, with its engine child
            // (the launcher's own short-lived helpers, such as the jar staleness check, are gone by now)
            assertThat(node.process().info().command().orElse("")).endsWith("java");
            assertThat(node.descendantsSeen()).filteredOn(ProcessHandle::isAlive).hasSize(1);
        }
    }

    @Test
    void startsFromTheArchiveOfTheClassesAStartAndItsAnswersLoadMadeForThisJar() throws Exception {
        Path log = dir.resolve("class-load.log");
        try (SimNode node = SimNode.builder(dir).viaLauncher().flags("--served-model-name", "qwenvl")
                .env("VLLM_SIM_JAVA_OPTS", "-Xlog:class+load=info:file=" + log).start()) {
            assertThat(Http.post(node.baseUrl() + "/v1/completions", "{\"model\":\"qwenvl\",\"prompt\":\"Hi\",\"max_tokens\":2}",
                    java.util.Map.of()).statusCode()).isEqualTo(200);
        }
        Path archive = Path.of("target/vllm-sim.jsa");
        assertThat(archive).exists();
        assertThat(Files.getLastModifiedTime(archive)).isGreaterThan(Files.getLastModifiedTime(Path.of("target/epdctl.jar")));
        // TextGenerator is loaded only to answer a completion: the archive was trained with answers
        assertThat(Files.readAllLines(log)).anyMatch(line -> line.contains(" io.epdctl.sim.SimMain ")
                && line.contains("source: shared objects file"));
        assertThat(Files.readAllLines(log)).anyMatch(line -> line.contains(" io.epdctl.sim.TextGenerator ")
                && line.contains("source: shared objects file"));
    }

    @Test
    void rejectsBadFlagsThroughTheLauncher() {
        try (SimNode node = SimNode.builder(dir).viaLauncher().flags("--no-such-flag").launch()) {
            assertThat(node.awaitExit(Duration.ofSeconds(60))).isEqualTo(2);
            assertThat(node.log()).contains("vllm serve: error: unrecognized arguments: --no-such-flag")
                    .doesNotContain("Exception");
        }
    }
}
