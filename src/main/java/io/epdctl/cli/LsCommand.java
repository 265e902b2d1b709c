package io.epdctl.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.epdctl.lifecycle.HostTargets;
import io.epdctl.lifecycle.NodeProbe;
import io.epdctl.lifecycle.StatusReport;
import io.epdctl.state.DeploymentState;
import io.epdctl.state.StateStore;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(
        name = "ls",
        mixinStandardHelpOptions = true,
        description = "Lists the recorded deployments: nodes ready of all, the proxy's endpoint and state, age. Every "
                + "deployment is probed at once, as status probes it (2 s timeouts).",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:the list was printed (also when none is recorded, or some are not ready)",
            "1:the state directory cannot be used", "2:invalid command line"})
public final class LsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    StateOptions stateOptions;

    @Mixin
    ConnectionOptions connectionOptions;

    @Mixin
    OutputOption output;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        StateStore store = stateOptions.store();
        List<DeploymentState> states = new ArrayList<>();
        for (String deployment : store.deployments()) {
            store.read(deployment).ifPresent(states::add);
        }
        List<StatusReport.Overview> overviews = StatusReport.overviews(states,
                state -> connectionOptions.open(HostTargets.fromState(state.hosts().values())), new NodeProbe(Duration.ofSeconds(1)));
        if (output.format() == OutputOption.Format.json) {
            out.println(json(overviews));
        } else if (overviews.isEmpty()) {
            spec.commandLine().getErr().println("epdctl: no deployment is recorded in " + store.root());
        } else {
            out.println(table(overviews, output.format() == OutputOption.Format.wide, EpdctlCommand.terminal(spec).out()));
        }
        out.flush();
        return ExitCodes.OK;
    }

    static String table(List<StatusReport.Overview> overviews, boolean wide, boolean styled) {
        List<String> header = new ArrayList<>(List.of("NAME", "NODES", "STATE", "PROXY", "AGE"));
        if (wide) {
            header.addAll(List.of("PROXY-STATE", "HOSTS", "TOPOLOGY"));
        }
        Table table = new Table(2, header.toArray(String[]::new));
        for (StatusReport.Overview overview : overviews) {
            List<String> cells = new ArrayList<>(List.of(overview.deployment(),
                    overview.nodesReady() + "/" + overview.nodes(), overview.state(), overview.proxy(),
                    StatusCommand.uptime(overview.ageSeconds())));
            if (wide) {
                cells.addAll(List.of(overview.proxyState(), String.join(",", overview.hosts()), overview.topologyFile()));
            }
            table.row(cells.toArray(String[]::new));
        }
        return table.render(styled);
    }

    private static String json(List<StatusReport.Overview> overviews) {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(Map.of("deployments", overviews));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("rows of strings and numbers always convert to JSON", e);
        }
    }
}
