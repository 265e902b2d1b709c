package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.Cli;
import io.epdctl.testing.SimDeployment;
import io.epdctl.testing.SystemTest;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code epdctl check} on this machine: it passes on a good topology and names what is wrong otherwise. */
@SystemTest
class CheckCommandTest {
    @TempDir
    Path dir;

    @Test
    void passesWhenEverythingIsInPlaceAndStartsNothing() {
        SimDeployment deployment = SimDeployment.builder(dir).write();

        Cli.Result check = Cli.run("check", deployment.file().toString());

        assertThat(check.exitCode()).as(check.toString()).isZero();
        assertThat(check.out()).containsPattern("(?m)^ok\\s+local\\s+login")
                .containsPattern("(?m)^ok\\s+local\\s+command\\s+.*bin/vllm-sim")
                .containsPattern("(?m)^warning\\s+local\\s+model\\s+sim/model is not a path")
                .containsPattern("(?m)^ok\\s+local\\s+ec-directory")
                .containsPattern("(?m)^ok\\s+local\\s+ports");
        assertThat(check.err()).contains("all checks passed");
        assertThat(Files.isDirectory(dir.resolve("ec"))).isTrue();
        assertThat(deployment.processes()).isEmpty();
    }

    @Test
    void namesATakenPortAndAMissingCommand() throws Exception {
        SimDeployment deployment = SimDeployment.builder(dir).write();
        Files.writeString(deployment.file(), Files.readString(deployment.file())
                .replaceFirst("command: \\S*bin/vllm-sim", "command: /nonexistent/vllm"));
        try (ServerSocket taken = new ServerSocket(deployment.port("e0"), 1, InetAddress.getLoopbackAddress())) {
            Cli.Result check = Cli.run("check", deployment.file().toString());

            assertThat(check.exitCode()).as(check.toString()).isEqualTo(1);
            assertThat(check.out()).containsPattern("(?m)^failed\\s+local\\s+command\\s+/nonexistent/vllm is not found")
                    .containsPattern("(?m)^failed\\s+local\\s+ports\\s+ports \\[" + deployment.port("e0") + "\\] are already in use");
            assertThat(check.err()).contains("2 checks failed");
        }
    }
}
