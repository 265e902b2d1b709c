package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.state.ProcessRecord;
import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SystemTest;
import io.epdctl.transport.HostConnections;
import io.epdctl.transport.HostTarget;
import io.epdctl.transport.SshOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Starting the nodes of one host in one round trip, for real on this machine. */
@SystemTest
class HostStartTest {
    @TempDir
    Path dir;
    private final List<ProcessRecord> started = new ArrayList<>();

    @AfterEach
    void stopEverything() throws Exception {
        for (ProcessRecord process : started) {
            // procps' kill needs "--" before a process group, or it reads "-PGID" as an option (and kills everything).
            new ProcessBuilder("kill", "-KILL", "--", "-" + process.processGroup()).start().waitFor();
        }
        assertThat(ProcessTable.killSurvivors(ProcessTable::startedByTests)).isEmpty();
    }

    private ProcessControl.HostStart startHere(List<LaunchPlan.Launch> launches) throws Exception {
        return startHere(null, launches);
    }

    private ProcessControl.HostStart startHere(HostCommands.Preparation preparation, List<LaunchPlan.Launch> launches) throws Exception {
        HostTarget local = HostTarget.local("local", "127.0.0.1");
        try (HostConnections connections = HostConnections.open(List.of(local), SshOptions.defaults())) {
            ProcessControl.HostStart result = new ProcessControl(connections).start("local", preparation, launches);
            started.addAll(result.started());
            return result;
        }
    }

    private LaunchPlan.Launch launch(String name, String script) {
        ProcessRecord record = new ProcessRecord(name, "encoder", "local", "127.0.0.1", 0, List.of(), List.of(), 0, "", null,
                dir.resolve("run").toString(), "hash", null, null);
        return new LaunchPlan.Launch(record, script, Supervisor.script(name, io.epdctl.topology.RestartPolicy.ON_FAILURE), Optional.empty());
    }

    @Test
    void removingAProcesssRunFilesLeavesThoseOfNodesWhoseNamesBeginTheSame() throws Exception {
        Path run = Files.createDirectories(dir.resolve("run"));
        List<String> mine = List.of("proxy-next.sh", "proxy-next.supervise", "proxy-next.pid", "proxy-next.exit", "proxy-next.armed",
                "proxy-next.stop", "proxy-next.exits", "proxy-next.log", "proxy-next.log.1", "proxy-next.log.5");
        List<String> others = List.of("proxy.sh", "proxy.log", "proxy-next.a.sh", "proxy-nexts.log", "proxy-next.log.6.kept");
        for (String file : concat(mine, others)) {
            Files.writeString(run.resolve(file), "x");
        }
        HostTarget local = HostTarget.local("local", "127.0.0.1");
        try (HostConnections connections = HostConnections.open(List.of(local), SshOptions.defaults())) {
            new ProcessControl(connections).removeRunFiles(launch("proxy-next", "").record());
        }
        try (var left = Files.list(run)) {
            assertThat(left.map(file -> file.getFileName().toString()).toList()).containsExactlyInAnyOrderElementsOf(others);
        }
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    @Test
    void everyScriptArrivesUnchangedAndEveryNodeLeadsItsOwnSessionAndProcessGroup() throws Exception {
        // Contains the here-document's first-choice delimiter, quotes and expansions, and has no final newline.
        String awkward = "#!/bin/sh\necho \"$0 'single' `date` $(id) \\\\\"\n: <<'X'\nEPDCTL_END_OF_SCRIPT\nX\nexec sleep 600";
        String plain = "#!/bin/sh\nexec sleep 600\n";

        ProcessControl.HostStart result = startHere(List.of(launch("e0", awkward), launch("p-0", plain)));

        assertThat(result.failure()).isEmpty();
        assertThat(result.started()).extracting(ProcessRecord::name).containsExactly("e0", "p-0");
        assertThat(Files.readString(dir.resolve("run/e0.sh"))).isEqualTo(awkward + "\n");
        assertThat(Files.readString(dir.resolve("run/p-0.sh"))).isEqualTo(plain);
        for (ProcessRecord process : result.started()) {
            String[] stat = ProcessTable.stat(process.processGroup());
            assertThat(stat[2]).as("state of %s", process.name()).isNotEqualTo("Z");
            assertThat(stat[4]).as("process group of %s", process.name()).isEqualTo(String.valueOf(process.processGroup()));
            assertThat(stat[5]).as("session of %s", process.name()).isEqualTo(String.valueOf(process.processGroup()));
            assertThat(process.startTicks()).isEqualTo(stat[21]);
        }
    }

    @Test
    void whenAScriptCannotBeWrittenNothingStartsAndTheHostSaysWhy() throws Exception {
        Files.writeString(dir.resolve("run"), "a file where the run directory should be");

        ProcessControl.HostStart result = startHere(List.of(launch("e0", "#!/bin/sh\nexec sleep 600\n")));

        assertThat(result.started()).isEmpty();
        assertThat(result.failure()).contains("run");
        assertThat(ProcessTable.startedByTests()).isEmpty();
    }

    @Test
    void theHostIsPreparedFirstAndNothingStartsWhenThatFails() throws Exception {
        Path ec = dir.resolve("ec");
        Files.createDirectories(ec.resolve("old-hash"));
        HostCommands.Preparation wipe = new HostCommands.Preparation(HostCommands.recreateDirectory(ec.toString()), "emptying " + ec);

        assertThat(startHere(wipe, List.of(launch("e0", "#!/bin/sh\nexec sleep 600\n"))).started()).hasSize(1);
        assertThat(ec).isEmptyDirectory();

        HostCommands.Preparation failing = new HostCommands.Preparation("ls /nonexistent-epdctl-dir", "listing nothing");
        ProcessControl.HostStart refused = startHere(failing, List.of(launch("p0", "#!/bin/sh\nexec sleep 600\n")));
        assertThat(refused.started()).isEmpty();
        assertThat(refused.failure()).contains("listing nothing failed");
        assertThat(dir.resolve("run/p0.sh")).doesNotExist();
    }
}
