package io.epdctl.cli;

import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.epdctl.lifecycle.HostTargets;
import io.epdctl.lifecycle.NodeDescriber;
import io.epdctl.lifecycle.NodeDescription;
import io.epdctl.lifecycle.NodeProbe;
import io.epdctl.lifecycle.ProcessControl;
import io.epdctl.shell.Shell;
import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
import io.epdctl.state.StateStore;
import io.epdctl.transport.HostConnections;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "describe",
        mixinStandardHelpOptions = true,
        description = {"Shows one node (or the proxy) of a deployment: host, NPUs, ports, process group, whether it is "
                + "alive and ready, its script and log, the argv and environment it runs with (read back from the "
                + "script on its host; values of keys, tokens and passwords masked) and its last exit."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:the node was described",
            "1:its host cannot be reached (what the state records is still printed), the deployment is not recorded, "
                    + "or the state directory cannot be used",
            "2:invalid command line, an unknown node, or several deployments are recorded and none was named"})
public final class DescribeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NODE", description = "The node's name, or proxy.")
    String node;

    @Mixin
    DeploymentOption deployment;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "text",
            description = "text (default) or json.")
    Format output;

    @Mixin
    StateOptions stateOptions;

    @Mixin
    ConnectionOptions connectionOptions;

    enum Format { text, json }

    @Override
    public Integer call() throws Exception {
        StateStore store = stateOptions.store();
        String name = deployment.resolve(store);
        DeploymentState state = StateOptions.recorded(store, name);
        ProcessRecord process = state.process(node).orElseThrow(() -> new UserException(ExitCodes.INVALID_INPUT,
                "deployment " + name + " has no node " + node + "; it has: "
                        + String.join(", ", state.processes().stream().map(ProcessRecord::name).toList())));
        NodeDescription description;
        try (HostConnections connections = connectionOptions.open(List.of(HostTargets.target(state.hosts().get(process.host()))))) {
            description = new NodeDescriber(new ProcessControl(connections), new NodeProbe(Duration.ofSeconds(1)))
                    .describe(state, process);
        }
        spec.commandLine().getOut().println(output == Format.json ? json(description) : text(description));
        if (!description.hostReached()) {
            spec.commandLine().getErr().println("epdctl: " + description.state());
            return ExitCodes.FAILURE;
        }
        return ExitCodes.OK;
    }

    static String json(NodeDescription description) throws Exception {
        return JsonMapper.builder().addModule(new JavaTimeModule()).disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
                .enable(SerializationFeature.INDENT_OUTPUT).build().writeValueAsString(description);
    }

    private static String portKind(NodeDescription d, int port) {
        if (port == d.port()) {
            return "HTTP";
        }
        return d.dpRpcPort() != null && port == d.dpRpcPort() ? "DP RPC" : "KV";
    }

    static String text(NodeDescription d) {
        List<String[]> fields = new ArrayList<>();
        fields.add(new String[] {"Name", d.name()});
        fields.add(new String[] {"Deployment", d.deployment()});
        fields.add(new String[] {"Role", d.role()});
        fields.add(new String[] {"Host", d.host() + " (" + d.address() + ")"});
        fields.add(new String[] {"NPUs", d.npus().isEmpty() ? "-" : d.npus().stream().map(String::valueOf).collect(Collectors.joining(","))});
        List<String> ports = new ArrayList<>();
        for (int port : d.ports()) {
            ports.add(port + " (" + portKind(d, port) + ")");
        }
        fields.add(new String[] {"Ports", ports.isEmpty() ? "-" : String.join(", ", ports)});
        fields.add(new String[] {"Process group", d.processGroup() > 0 ? d.processGroup() + (d.groupPids().isEmpty() ? ""
                : " (live: " + d.groupPids().stream().map(String::valueOf).collect(Collectors.joining(" ")) + ")") : "-"});
        fields.add(new String[] {"Started", d.startedAt() == null ? "-" : d.startedAt().toString()});
        fields.add(new String[] {"State", d.state()});
        fields.add(new String[] {"Ready", d.ready() ? "yes" : "no (" + d.readiness() + ")"});
        fields.add(new String[] {"Last exit", d.lastExit() == null ? "-"
                : "status " + d.lastExit().status() + (d.lastExit().at() == null ? "" : " at " + d.lastExit().at())});
        fields.add(new String[] {"Restarts", d.restarts() == null ? "-" : String.valueOf(d.restarts())});
        fields.add(new String[] {"Script", d.script()});
        fields.add(new String[] {"Log", d.log()});
        StringBuilder text = new StringBuilder();
        int width = fields.stream().mapToInt(field -> field[0].length()).max().orElse(0) + 2;
        for (String[] field : fields) {
            text.append(String.format("%-" + width + "s", field[0] + ":")).append(field[1]).append('\n');
        }
        if (d.scriptProblem() != null) {
            text.append("Command:     (").append(d.scriptProblem()).append(")\n");
        }
        if (!d.argv().isEmpty()) {
            text.append("Command:\n  ");
            for (int i = 0; i < d.argv().size(); i++) {
                String word = d.argv().get(i);
                text.append(i == 0 ? "" : word.startsWith("--") ? " \\\n    " : " ").append(Shell.word(word));
            }
            text.append('\n');
        }
        if (!d.env().isEmpty()) {
            text.append("Environment:\n");
            d.env().forEach((key, value) -> text.append("  ").append(key).append('=').append(value).append('\n'));
        }
        return text.toString().stripTrailing();
    }
}
