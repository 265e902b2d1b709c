package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.state.ProcessRecord;
import io.epdctl.state.ProcessSpec;
import io.epdctl.testing.SystemTest;
import io.epdctl.transport.HostConnections;
import io.epdctl.transport.HostTarget;
import io.epdctl.transport.SshOptions;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What up checks on a host before it stops anything, for real on this machine (one round trip; nothing created). */
@SystemTest
class StartCheckTest {
    @TempDir
    Path dir;

    private LaunchPlan.Launch launch(String name, int port, List<String> setup, String command) {
        ProcessSpec spec = new ProcessSpec(List.of(command, "serve", "/m"), Map.of(), setup, List.of(), "local", "127.0.0.1",
                dir.toString(), null);
        ProcessRecord record = new ProcessRecord(name, "encoder", "local", "127.0.0.1", port, List.of(), List.of(), 0, "", null,
                dir.toString(), "hash", spec, null);
        return new LaunchPlan.Launch(record, "", "", Optional.empty());
    }

    private StartCheck.Result check(List<LaunchPlan.Launch> starting, List<ProcessRecord> stopping, String model, String ec)
            throws Exception {
        try (HostConnections connections = HostConnections.open(List.of(HostTarget.local("local", "127.0.0.1")), SshOptions.defaults())) {
            return new StartCheck(new ProcessControl(connections)).run(starting, stopping, model, ec, Set.of("local"));
        }
    }

    @Test
    void everythingInPlacePassesAndCreatesNothing() throws Exception {
        Path tool = Files.writeString(dir.resolve("tool"), "#!/bin/sh\n");
        tool.toFile().setExecutable(true);
        Path model = Files.createDirectory(dir.resolve("model"));
        Path ec = dir.resolve("shared/ec");

        StartCheck.Result result = check(List.of(launch("e0", 0, List.of("PATH=" + dir + ":$PATH", "echo setting up"), "tool")),
                List.of(), model.toString(), ec.toString());

        assertThat(result.problems()).isEmpty();
        assertThat(ec.getParent()).as("the check creates nothing").doesNotExist();
    }

    @Test
    void eachProblemIsNamedWithItsProcessAndHost() throws Exception {
        Path aFile = Files.writeString(dir.resolve("a-file"), "");
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();

            StartCheck.Result result = check(List.of(launch("e0", port, List.of("cd /"), dir.resolve("none/vllm").toString())),
                    List.of(), dir.resolve("no-model").toString(), aFile.resolve("ec").toString());

            assertThat(result.problems()).contains(
                    "e0 on local: " + dir.resolve("none/vllm") + " is not found (after the setup lines)",
                    "e0 needs port [" + port + "] on local, which something already listens on",
                    "local: the model " + dir.resolve("no-model") + " does not exist",
                    "local: the EC directory " + aFile.resolve("ec") + " cannot be created (no writable directory on its path)");

            ProcessRecord holder = launch("old", port, List.of(), "sh").record();
            StartCheck.Result freed = check(List.of(launch("e0", port, List.of(), "sh")), List.of(holder), null, null);
            assertThat(freed.problems()).as("a port held by a process the plan stops counts as free").isEmpty();
        }
    }
}
