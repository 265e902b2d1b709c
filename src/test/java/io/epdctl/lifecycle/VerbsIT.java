package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.cli.Main;
import io.epdctl.state.StateStore;
import io.epdctl.testing.Cli;
import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SimDeployment;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** ls, logs of every process, -o wide and -q on a real vllm-sim deployment that epdctl starts. */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class VerbsIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void quietUpLsWideStatusLogsOfAllAndQuietDown() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            Cli.Result up = deployment.up("-q");
            assertThat(up.exitCode()).as(up.toString()).isZero();
            assertThat(up.out()).isEqualTo(deployment.proxyUrl() + "\n");
            assertThat(up.err()).as("-q: no progress").isEmpty();

            Cli.Result ls = deployment.epdctl("ls");
            assertThat(ls.exitCode()).as(ls.toString()).isZero();
            assertThat(ls.out()).containsPattern("(?m)^NAME\\s+NODES\\s+STATE\\s+PROXY\\s+AGE$")
                    .containsPattern("(?m)^" + deployment.name() + "\\s+3/3\\s+ready\\s+" + deployment.proxyUrl() + "\\s+\\d+s$");
            JsonNode listed = JSON.readTree(deployment.epdctl("ls", "-o", "json").out()).path("deployments").get(0);
            assertThat(listed.path("deployment").asText()).isEqualTo(deployment.name());
            assertThat(listed.path("nodesReady").asInt()).isEqualTo(3);
            assertThat(listed.path("nodes").asInt()).isEqualTo(3);
            assertThat(listed.path("proxyState").asText()).isEqualTo("ready");
            assertThat(deployment.epdctl("ls", "-o", "wide").out()).contains("PROXY-STATE", "HOSTS", "TOPOLOGY",
                    deployment.file().toString());

            Cli.Result wide = deployment.epdctl("status", "-d", deployment.name(), "-o", "wide");
            assertThat(wide.exitCode()).as(wide.toString()).isZero();
            String e0Log = new StateStore(deployment.stateDir()).read(deployment.name()).orElseThrow().process("e0").orElseThrow().log();
            assertThat(wide.out()).containsPattern("(?m)^NODE\\s+ROLE.*KV%\\s+ADDRESS\\s+STARTED\\s+LOG\\s+CONTAINER\\s+REASON$")
                    .containsPattern("(?m)^e0\\s+encoder\\s+local\\s.*ready.*127\\.0\\.0\\.1\\s+\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+"
                            + java.util.regex.Pattern.quote(e0Log));
            assertThat(JSON.readTree(deployment.epdctl("status", "-o", "json").out()).path("processes")).hasSize(4);

            Cli.Result all = deployment.epdctl("logs", "-n", "200");
            assertThat(all.exitCode()).as(all.toString()).isZero();
            for (String process : List.of("e0", "p0", "d0", "proxy")) {
                assertThat(all.out()).as(process).containsPattern("(?m)^" + String.format("%-5s", process) + " \\| \\S");
            }
            assertThat(all.out()).containsPattern("(?m)^e0    \\| .*Application startup complete\\.$")
                    .containsPattern("(?m)^proxy \\| ");
            assertThat(all.out().lines()).allMatch(line -> line.matches("(e0   |p0   |d0   |proxy) \\| .*"));

            Cli.Result timed = deployment.epdctl("logs", "e0", "-n", "3", "--timestamps");
            assertThat(timed.out().lines()).hasSize(3)
                    .allMatch(line -> line.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(Z|[+-]\\d\\d:\\d\\d) .*"));
            assertThat(deployment.epdctl("logs", "--since", "1h", "-n", "200").out()).contains("Application startup complete.");
            assertThat(deployment.epdctl("logs", "--since", "0s", "-n", "200").out())
                    .as("every line was written before the command").doesNotContain("Application startup complete.");

            assertThat(ls.out() + wide.out() + all.out() + timed.out()).doesNotContain("\033");

            Cli.Result down = deployment.epdctl("down", "-q", "-d", deployment.name());
            assertThat(down.exitCode()).as(down.toString()).isZero();
            assertThat(down.out() + down.err()).isEmpty();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void logsOfAllFollowsEveryLogUntilInterruptedAndLeavesNoTailBehind() throws Exception {
        try (SimDeployment deployment = SimDeployment.builder(dir).write()) {
            assertThat(deployment.up("-q").exitCode()).isZero();
            var state = new StateStore(deployment.stateDir()).read(deployment.name()).orElseThrow();
            Path d0Log = Path.of(state.process("d0").orElseThrow().log());
            Path proxyLog = Path.of(state.process("proxy").orElseThrow().log());
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            CompletableFuture<Integer> follow = new CompletableFuture<>();
            Thread thread = new Thread(() -> follow.complete(Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true))
                    .execute("logs", "-f", "-n", "0", "--timestamps", "--state-dir", deployment.stateDir().toString())));
            thread.start();
            try {
                awaitTails(d0Log, proxyLog);
                Files.writeString(d0Log, "appended to d0\n", StandardOpenOption.APPEND);
                Files.writeString(proxyLog, "appended to the proxy\n", StandardOpenOption.APPEND);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (!(out.toString().contains("appended to d0") && out.toString().contains("appended to the proxy"))
                        && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
            } finally {
                thread.interrupt();
                thread.join(TimeUnit.SECONDS.toMillis(20));
            }
            assertThat(follow.getNow(null)).as(err.toString()).isEqualTo(130);
            assertThat(out.toString()).containsPattern("(?m)^d0    \\| \\S+ appended to d0$")
                    .containsPattern("(?m)^proxy \\| \\d{4}-\\S+ appended to the proxy$");
            assertThat(ProcessTable.awaitGone(() -> tailsOf(d0Log, proxyLog))).as("tail -F left running").isEmpty();
        }
    }

    /** Waits until a tail follows both logs (the appended lines are then seen). */
    private static void awaitTails(Path... logs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (tailsOf(logs).size() < logs.length && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
    }

    private static List<ProcessHandle> tailsOf(Path... logs) {
        return ProcessHandle.allProcesses().filter(process -> process.info().commandLine()
                .map(line -> line.startsWith("tail ") && List.of(logs).stream().anyMatch(log -> line.contains(log.toString())))
                .orElse(false)).toList();
    }
}
