package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SystemTest;
import io.epdctl.topology.RestartPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rendered supervisor's decisions, run by the real sh in a real directory with a stand-in node script: each
 * run of {@code n0.sh} counts itself in {@code runs} and exits with the status on the line of {@code codes} for
 * its run (a run without a line stays up, as a serving node does).
 */
@SystemTest
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class SupervisorScriptTest {
    private static final String STAND_IN = """
            #!/bin/sh
            n=$(( $(cat runs 2>/dev/null || echo 0) + 1 )); echo $n > runs
            echo "run $n"
            if [ -e leave-child ]; then sleep 600 & echo $! > "child.$n"; fi
            if [ -e hold ]; then while [ ! -e go ]; do sleep 0.05; done; fi
            code=$(sed -n "${n}p" codes)
            [ -n "$code" ] || exec sleep 600
            exit "$code"
            """;

    @TempDir
    Path dir;

    private final List<Long> groups = new ArrayList<>();

    @AfterEach
    void killGroups() throws Exception {
        for (long group : groups) {
            new ProcessBuilder("kill", "-KILL", "--", "-" + group).start().waitFor();
        }
    }

    private long supervise(RestartPolicy policy, boolean armed, String... codes) throws Exception {
        Files.writeString(dir.resolve("n0.supervise"), Supervisor.script("n0", policy));
        Files.writeString(dir.resolve("n0.sh"), STAND_IN);
        dir.resolve("n0.sh").toFile().setExecutable(true);
        Files.writeString(dir.resolve("codes"), codes.length == 0 ? "" : String.join("\n", codes) + "\n");
        if (armed) {
            Files.writeString(dir.resolve("n0.armed"), "");
        }
        new ProcessBuilder("sh", "-c", "setsid sh ./n0.supervise < /dev/null > /dev/null 2>&1 &").directory(dir.toFile())
                .start().waitFor();
        long group = ProcessTable.pidFromFile(dir.resolve("n0.pid"));
        groups.add(group);
        return group;
    }

    private void awaitFile(String name) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(dir.resolve(name))) {
            assertThat(System.nanoTime()).as(name + " never appeared; files: " + files()).isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    private void awaitRuns(int runs) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (runs() < runs) {
            assertThat(System.nanoTime()).as("run " + runs + " never started").isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    private int runs() throws IOException {
        Path file = dir.resolve("runs");
        String text = Files.exists(file) ? Files.readString(file).strip() : "";
        return text.isEmpty() ? 0 : Integer.parseInt(text);
    }

    private List<String> exits() throws IOException {
        Path file = dir.resolve("n0.exits");
        return Files.exists(file) ? Files.readAllLines(file).stream().map(line -> line.substring(line.indexOf(' ') + 1)).toList() : List.of();
    }

    private String read(String name) throws IOException {
        return Files.readString(dir.resolve(name));
    }

    private List<String> files() throws IOException {
        try (var list = Files.list(dir)) {
            return list.map(path -> path.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aNodeNeverSeenReadyIsNotRestarted() throws Exception {
        long group = supervise(RestartPolicy.ON_FAILURE, false, "3");

        awaitFile("n0.exit");

        assertThat(read("n0.exit").strip()).isEqualTo("3");
        assertThat(exits()).containsExactly("3 never-ready");
        assertThat(runs()).isEqualTo(1);
        assertThat(read("n0.log")).contains("run 1", "before it was ever ready; not starting it again");
        assertThat(ProcessTable.awaitGone(group)).isEmpty();
    }

    @Test
    void policyNeverLeavesAnArmedNodeDead() throws Exception {
        supervise(RestartPolicy.NEVER, true, "1");

        awaitFile("n0.exit");

        assertThat(exits()).containsExactly("1 not-restarted");
        assertThat(runs()).isEqualTo(1);
    }

    @Test
    void aCleanExitIsNotAFailure() throws Exception {
        supervise(RestartPolicy.ON_FAILURE, true, "0");

        awaitFile("n0.exit");

        assertThat(exits()).containsExactly("0 succeeded");
        assertThat(runs()).isEqualTo(1);
    }

    @Test
    void anArmedNodeThatCrashesIsStartedAgainInTheSameGroupWithTheCrashedRunsLogKeptAndItsLeftoversStopped() throws Exception {
        Files.writeString(dir.resolve("leave-child"), "");
        long group = supervise(RestartPolicy.ON_FAILURE, true, "7");

        awaitRuns(2);

        assertThat(exits()).containsExactly("7 restart");
        assertThat(Files.readString(dir.resolve("n0.pid")).strip()).isEqualTo(String.valueOf(group));
        assertThat(read("n0.log.1")).contains("run 1").doesNotContain("run 2");
        assertThat(read("n0.log")).contains("n0 exited with status 7; starting it again in 1 s (attempt 2").contains("run 2");
        long firstChild = Long.parseLong(read("child.1").strip());
        assertThat(ProcessTable.awaitGone(firstChild)).as("the crashed run's child, left in the group").isEmpty();
        assertThat(ProcessTable.isLive(group)).isTrue();
        assertThat(files()).doesNotContain("n0.exit", "n0.restarting");
        assertThat(ProcessTable.stat(Long.parseLong(read("child.2").strip()))[4]).as("the new run's group").isEqualTo(String.valueOf(group));
    }

    @Test
    void aStopMarkerMeansTheExitIsNotRestarted() throws Exception {
        // The run exits only once the marker is there: else it could exit (and be restarted) before.
        Files.writeString(dir.resolve("hold"), "");
        supervise(RestartPolicy.ON_FAILURE, true, "1");
        awaitRuns(1);
        // What stop does before it signals the group; here the script exits on its own after it.
        Files.writeString(dir.resolve("n0.stop"), "");
        Files.writeString(dir.resolve("go"), "");

        awaitFile("n0.exit");

        assertThat(exits()).containsExactly("1 stopped");
        assertThat(runs()).isEqualTo(1);
    }

    @Test
    void aSigtermToTheGroupDuringTheBackoffStartsNothingAgain() throws Exception {
        // The second run would crash too: the backoff after it is 2 s, long enough to signal the group in it.
        long group = supervise(RestartPolicy.ON_FAILURE, true, "1", "1");
        awaitRuns(2);
        awaitFile("n0.restarting");
        assertThat(read("n0.restarting")).startsWith("3 ");

        new ProcessBuilder("kill", "-TERM", "--", "-" + group).start().waitFor();

        awaitFile("n0.exit");
        assertThat(ProcessTable.awaitGone(group)).isEmpty();
        Thread.sleep(2500);
        assertThat(runs()).as("no third run after the backoff").isEqualTo(2);
        assertThat(files()).doesNotContain("n0.restarting");
        assertThat(read("n0.log")).contains("n0 stopped");
    }

    @Test
    void aCrashLoopStopsTheRetriesAfterTheLimitAndKeepsABoundedNumberOfLogs() throws Exception {
        String[] always = new String[Supervisor.CRASH_LOOP_EXITS + 2];
        java.util.Arrays.fill(always, "2");
        long group = supervise(RestartPolicy.ON_FAILURE, true, always);

        awaitFile("n0.exit");

        assertThat(runs()).isEqualTo(Supervisor.CRASH_LOOP_EXITS);
        assertThat(exits()).hasSize(Supervisor.CRASH_LOOP_EXITS).last().isEqualTo("2 crash-loop");
        assertThat(exits().subList(0, Supervisor.CRASH_LOOP_EXITS - 1)).containsOnly("2 restart");
        assertThat(read("n0.exit").strip()).isEqualTo("2");
        assertThat(read("n0.log")).contains("run 5", "a crash loop; not starting it again");
        assertThat(read("n0.log.1")).contains("run 4");
        assertThat(read("n0.log.4")).contains("run 1");
        assertThat(files()).doesNotContain("n0.log.6", "n0.restarting");
        assertThat(ProcessTable.awaitGone(group)).isEmpty();
    }
}
