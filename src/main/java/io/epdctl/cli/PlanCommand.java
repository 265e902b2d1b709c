package io.epdctl.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.epdctl.lifecycle.LaunchPlan;
import io.epdctl.lifecycle.NodeProbe;
import io.epdctl.lifecycle.Planner;
import io.epdctl.lifecycle.ProcessControl;
import io.epdctl.lifecycle.UpPlan;
import io.epdctl.state.DeploymentState;
import io.epdctl.state.StateStore;
import io.epdctl.topology.Topology;
import io.epdctl.transport.HostConnections;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "plan",
        mixinStandardHelpOptions = true,
        description = {
            "Prints what up would do with the file, changing nothing: one line per node (in file order), per recorded "
                    + "process no longer in the file, and for the proxy: keep (unchanged, ready), wait (unchanged, alive, "
                    + "still loading), start, restart or stop, with the reason (what changed, or why it must start again). "
                    + "Then what happens to the EC directory, which roles are briefly without a backend, and the proxy.",
            "It asks the hosts and the nodes what runs, as status does."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:nothing to do (every row is keep or wait)", "1:a host cannot be reached or the state directory cannot be used",
            "2:invalid command line, topology or template", "3:up would start, restart or stop something"})
public final class PlanCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    TopologyFileParameter topologyFile;

    @Mixin
    TemplatesOption templatesOption;

    @Mixin
    RemoteDirOption remoteDir;

    @Mixin
    StateOptions stateOptions;

    @Mixin
    ConnectionOptions connectionOptions;

    @Mixin
    OutputOption output;

    @Option(names = "--max-unavailable", paramLabel = "N", defaultValue = "" + UpPlan.DEFAULT_MAX_UNAVAILABLE,
            description = "As up's: how many serving nodes of one role are replaced at once (default: ${DEFAULT-VALUE}).")
    int maxUnavailable;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Topology topology = topologyFile.load(err);
        StateStore store = stateOptions.store();
        LaunchPlan launches = remoteDir.launchPlan(topology, store, templatesOption.templates());
        if (maxUnavailable < 1) {
            throw new UserException(ExitCodes.INVALID_INPUT, "--max-unavailable must be at least 1, not " + maxUnavailable);
        }
        UpPlan plan = plan(topology, launches, store, connectionOptions, maxUnavailable, err);
        out.println(output.format() == OutputOption.Format.json ? json(topology.name(), plan) : String.join("\n", plan.lines()));
        return plan.unchanged() ? ExitCodes.OK : ExitCodes.CHANGES;
    }

    /** The plan for {@code launches} against what is recorded and runs; unreachable hosts are said on {@code err}. */
    static UpPlan plan(Topology topology, LaunchPlan launches, StateStore store, ConnectionOptions connectionOptions,
            int maxUnavailable, PrintWriter err) throws IOException, InterruptedException {
        DeploymentState recorded = store.read(topology.name()).orElse(null);
        try (HostConnections connections = connectionOptions.openForChange(topology, recorded, err)) {
            return new Planner(new ProcessControl(connections), new NodeProbe(Duration.ofSeconds(2)))
                    .plan(launches, recorded, topology.ecTransfer().sharedStoragePath(), maxUnavailable).plan();
        }
    }

    private static String json(String deployment, UpPlan plan) {
        List<Map<String, String>> rows = plan.rows().stream().map(row -> {
            Map<String, String> fields = new LinkedHashMap<>();
            fields.put("action", row.action().word());
            fields.put("name", row.name());
            fields.put("role", row.role());
            fields.put("host", row.host());
            fields.put("reason", row.reason());
            return fields;
        }).toList();
        Map<String, String> ec = new LinkedHashMap<>();
        plan.ec().forEach((host, action) -> ec.put(host, action.name().toLowerCase(Locale.ROOT)));
        Map<String, Object> document = new LinkedHashMap<>();
        document.put("deployment", deployment);
        document.put("changes", !plan.unchanged());
        document.put("rows", rows);
        document.put("ecDirectory", plan.ecDirectory());
        document.put("ec", ec);
        document.put("rolesWithoutBackend", plan.rolesWithoutBackend());
        document.put("proxy", plan.proxy().name().toLowerCase(Locale.ROOT));
        // The waves of a rolling change behind the built-in proxy: each a list of "ACTION NAME"; null when it does not roll.
        document.put("rollout", plan.rollout() == null ? null : plan.rollout().waves().stream()
                .map(wave -> wave.rows().stream().map(row -> row.action().word() + " " + row.name()).toList()).toList());
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(document);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("strings, lists and maps always convert to JSON", e);
        }
    }
}
