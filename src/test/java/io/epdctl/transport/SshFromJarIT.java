package io.epdctl.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.SshAgent;
import io.epdctl.testing.SshProbeMain;
import io.epdctl.testing.SshServer;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The SSH transport from the jar users run: ed25519 signatures and the agent's unix socket come from
 * JSch's Java 15+/16+ classes, which the JVM loads only from a jar marked Multi-Release.
 */
class SshFromJarIT {

    @Test
    void logsInWithAnEd25519KeyHeldByTheAgent() throws Exception {
        try (SshServer server = SshServer.start("127.0.0.6"); SshAgent agent = SshAgent.start()) {
            agent.add(server.ed25519Key(), null);
            String classpath = "target/epdctl.jar" + File.pathSeparator + "target/test-classes";
            Process probe = new ProcessBuilder("java", "-cp", classpath, SshProbeMain.class.getName(),
                    server.address(), String.valueOf(server.port()), server.user(), server.knownHosts().toString(), agent.socket())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
            String out = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String err = new String(probe.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!probe.waitFor(60, TimeUnit.SECONDS)) {
                probe.destroyForcibly();
            }

            assertThat(probe.exitValue()).as(err).isZero();
            assertThat(out).isEqualTo(server.user() + "\n");
        }
    }
}
