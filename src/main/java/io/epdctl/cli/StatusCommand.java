package io.epdctl.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.epdctl.transport.HostConnections;
import io.epdctl.lifecycle.HostTargets;
import io.epdctl.lifecycle.NodeProbe;
import io.epdctl.lifecycle.ProcessControl;
import io.epdctl.lifecycle.StatusReport;
import io.epdctl.state.DeploymentState;
import io.epdctl.state.StateStore;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "status",
        mixinStandardHelpOptions = true,
        description = "Probes every node and the proxy of a deployment at once and shows what runs and how it is doing.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:everything is ready", "1:something is not ready, nothing is recorded, or the state directory "
                + "cannot be used", "2:invalid command line, or several deployments are recorded and none was named"})
public final class StatusCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeploymentNameParameter name;

    @Mixin
    StateOptions stateOptions;

    @Mixin
    ConnectionOptions connectionOptions;

    @Mixin
    OutputOption output;

    @Option(names = "--watch", paramLabel = "DURATION", arity = "0..1", fallbackValue = "2s",
            converter = DurationConverter.class, description = "Refresh every DURATION (default 2s) until interrupted; "
                    + "on a terminal the screen is redrawn, elsewhere a block headed by the time is printed per refresh.")
    Duration watch;

    /** A REASON in the table is cut here (-o wide and json give it whole). */
    private static final int REASON_WIDTH = 60;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        boolean styled = EpdctlCommand.terminal(spec).out();
        StateStore store = stateOptions.store();
        String deployment = name.resolve(store);
        DeploymentState state = StateOptions.recorded(store, deployment);
        try (HostConnections connections = connectionOptions.open(HostTargets.fromState(state.hosts().values()))) {
            StatusReport report = new StatusReport(new ProcessControl(connections), new NodeProbe(Duration.ofSeconds(1)));
            while (true) {
                List<StatusReport.Row> rows = report.rows(state);
                if (watch != null && styled) {
                    out.print("\033[H\033[2J");
                } else if (watch != null && output.format() != OutputOption.Format.json) {
                    out.println("--- " + Instant.now().truncatedTo(ChronoUnit.SECONDS));
                }
                out.println(switch (output.format()) {
                    case json -> json(deployment, rows);
                    case wide -> table(deployment, rows, true, styled);
                    case table -> table(deployment, rows, false, styled);
                });
                out.flush();
                if (watch == null) {
                    return rows.stream().allMatch(StatusReport.Row::ready) ? ExitCodes.OK : ExitCodes.FAILURE;
                }
                Thread.sleep(watch.toMillis());
                state = StateOptions.recorded(store, deployment);
            }
        }
    }

    /** The rows as columns; {@code wide} adds where each process listens, when it started, its log, the whole reason. */
    static String table(String deployment, List<StatusReport.Row> rows, boolean wide, boolean styled) {
        List<String> header = new ArrayList<>(List.of("NODE", "ROLE", "HOST", "NPUS", "PORT", "PID", "STATE", "RESTARTS", "LAST EXIT", "UPTIME",
                "RUNNING", "WAITING", "KV%"));
        if (wide) {
            header.addAll(List.of("ADDRESS", "STARTED", "LOG", "CONTAINER"));
        }
        header.add("REASON");
        Table table = new Table(6, header.toArray(String[]::new));
        for (StatusReport.Row row : rows) {
            List<String> cells = new ArrayList<>(List.of(row.name(), row.role(), row.host(),
                    row.devices().isEmpty() ? "-" : row.devices().stream().map(String::valueOf).collect(Collectors.joining(",")),
                    row.port() > 0 ? String.valueOf(row.port()) : "-" /* a headless rank: no HTTP */, row.pid() > 0 ? String.valueOf(row.pid()) : "-", row.state(),
                    row.restarts() == null ? "-" : String.valueOf(row.restarts()), lastExit(row.lastExit(), wide, Instant.now()),
                    row.uptimeSeconds() == null ? "-" : uptime(row.uptimeSeconds()),
                    number(row.running()), number(row.waiting()),
                    row.kvCacheUsage() == null ? "-" : String.format("%.1f", row.kvCacheUsage() * 100)));
            if (wide) {
                cells.addAll(List.of(row.address(),
                        row.startedAt() == null ? "-" : row.startedAt(), row.log(), row.container() == null ? "-" : row.container()));
            }
            String reason = row.reason() == null ? "" : row.reason();
            cells.add(wide || reason.length() <= REASON_WIDTH ? reason : reason.substring(0, REASON_WIDTH - 3) + "...");
            table.row(cells.toArray(String[]::new));
        }
        return "deployment " + deployment + "\n" + table.render(styled);
    }

    private static String json(String deployment, List<StatusReport.Row> rows) {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(Map.of("deployment", deployment, "processes", rows));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("rows of strings and numbers always convert to JSON", e);
        }
    }

    /** "SIGKILL 12s ago", "status 1 3m ago"; with {@code wide} the time itself. */
    static String lastExit(StatusReport.LastExit exit, boolean wide, Instant now) {
        if (exit == null) {
            return "-";
        }
        String what = exit.signal() != null ? "SIG" + exit.signal() : "status " + exit.status();
        Instant at = Instant.parse(exit.at());
        return what + (wide ? " at " + exit.at() : " " + uptime(Math.max(0, java.time.Duration.between(at, now).toSeconds())) + " ago");
    }

    private static String number(Double value) {
        return value == null ? "-" : String.valueOf(Math.round(value));
    }

    static String uptime(long seconds) {
        if (seconds < 120) {
            return seconds + "s";
        }
        return seconds < 7200 ? seconds / 60 + "m" : seconds / 3600 + "h" + (seconds % 3600) / 60 + "m";
    }
}
