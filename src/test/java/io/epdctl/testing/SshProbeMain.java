package io.epdctl.testing;

import io.epdctl.transport.HostTarget;
import io.epdctl.transport.SshOptions;
import io.epdctl.transport.SshTransport;
import io.epdctl.transport.TransportException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Logs in with the SSH transport and prints {@code id -un}; run by {@code SshFromJarIT} on the shaded
 * jar, whose class loading differs from the test classpath's (JSch's Java 15+ and 16+ classes).
 * Arguments: address port user knownHosts agentSocket.
 */
public final class SshProbeMain {
    private SshProbeMain() {
    }

    public static void main(String[] args) {
        HostTarget host = new HostTarget("probe", args[0], false, args[2], Integer.parseInt(args[1]), null);
        SshOptions options = new SshOptions(Path.of(args[3]), false, List.of(), args[4], List.of(), Duration.ofSeconds(10));
        try (SshTransport transport = SshTransport.connect(host, options)) {
            System.out.print(transport.run("id -un", Duration.ofSeconds(30)).stdout());
        } catch (TransportException e) {
            System.err.println(e.getMessage());
            System.exit(1);
        }
    }
}
