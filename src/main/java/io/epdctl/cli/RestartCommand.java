package io.epdctl.cli;

import io.epdctl.lifecycle.Deployer;
import io.epdctl.lifecycle.LaunchPlan;
import io.epdctl.lifecycle.NodeProbe;
import io.epdctl.lifecycle.ProcessControl;
import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
import io.epdctl.state.StateStore;
import io.epdctl.topology.Role;
import io.epdctl.topology.Topology;
import io.epdctl.transport.HostConnections;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "restart",
        mixinStandardHelpOptions = true,
        description = {
            "Restarts nodes of a running deployment without a change of its file, as up rolls a change: each node is "
                    + "drained in the built-in proxy (no new requests; those in flight end, up to --drain-timeout), "
                    + "removed from it, stopped, started, awaited and added back once ready; at most --max-unavailable "
                    + "serving nodes of a role at a time, so a role with more nodes keeps serving.",
            "A node the topology file changed since it started is refused: epdctl up restarts it with its change."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every node named is restarted and ready", "1:a node failed to start again (what failed is stopped), "
                    + "a named node cannot be restarted (see the message), the proxy is not the built-in one running, or the "
                    + "deployment is locked by another epdctl",
            "2:invalid command line: no node, an unknown node or role, or several deployments recorded and none named"})
public final class RestartCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeploymentOption deployment;

    @Parameters(arity = "0..*", paramLabel = "NODE", description = "The nodes to restart.")
    List<String> nodes = List.of();

    @Option(names = "--all", description = "Every node of the deployment.")
    boolean all;

    @Option(names = "--role", paramLabel = "ROLE", description = "Every node of this role (encoder, pd, prefill, decode).")
    String role;

    @Mixin
    StateOptions stateOptions;

    @Mixin
    ConnectionOptions connectionOptions;

    @Mixin
    TemplatesOption templatesOption;

    @Mixin
    RemoteDirOption remoteDir;

    @Mixin
    RollingOptions rolling;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30m", converter = DurationConverter.class,
            description = "How long to wait for each restarted node to be ready (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Option(names = "--grace", paramLabel = "DURATION", defaultValue = "30s", converter = DurationConverter.class,
            description = "Time between SIGTERM and SIGKILL for a node being stopped (default: ${DEFAULT-VALUE}).")
    Duration grace;

    @Mixin
    QuietOption quietOption;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        StateStore store = stateOptions.store();
        String name = deployment.resolve(store);
        try (StateStore.DeploymentLock lock = store.lock(name)) {
            DeploymentState state = store.read(name).orElseThrow(() -> new UserException(ExitCodes.INVALID_INPUT,
                    "deployment " + name + " is not recorded; nothing to restart"));
            List<String> chosen = chosen(state);
            Topology topology = TopologyFileParameter.load(Path.of(state.topologyFile()), err);
            LaunchPlan plan = remoteDir.launchPlan(topology, store, templatesOption.templates());
            try (HostConnections connections = connectionOptions.openForChange(topology, state, err)) {
                ProcessControl control = new ProcessControl(connections);
                try (QuietOption.Display display = quietOption.display(spec, process -> "")) {
                    new Deployer(topology, Path.of(state.topologyFile()), plan, store, control, new NodeProbe(Duration.ofSeconds(2)),
                            display.progress(), new Deployer.Options(timeout, grace, Duration.ofMillis(150), false,
                                    rolling.maxUnavailable(), rolling.drainTimeout())).restart(chosen);
                }
            }
        }
        return ExitCodes.OK;
    }

    /** The nodes named, or all, or those of the role: one of the three, each name a recorded node. */
    private List<String> chosen(DeploymentState state) {
        List<ProcessRecord> recorded = state.processes().stream().filter(process -> !process.isProxy()).toList();
        List<String> known = recorded.stream().map(ProcessRecord::name).toList();
        int ways = (nodes.isEmpty() ? 0 : 1) + (all ? 1 : 0) + (role == null ? 0 : 1);
        if (ways != 1) {
            throw new UserException(ExitCodes.INVALID_INPUT, (ways == 0 ? "name the nodes to restart" : "name the nodes, --all or --role, not several")
                    + " (deployment " + state.deployment() + " has " + String.join(", ", known) + ")");
        }
        if (all) {
            return known;
        }
        if (role != null) {
            if (!Role.yamlNames().contains(role)) {
                throw new UserException(ExitCodes.INVALID_INPUT, "--role " + role + ": not a role; the roles are "
                        + String.join(", ", Role.yamlNames()));
            }
            List<String> ofRole = recorded.stream().filter(process -> process.role().equals(role)).map(ProcessRecord::name).toList();
            if (ofRole.isEmpty()) {
                throw new UserException(ExitCodes.INVALID_INPUT, "--role " + role + ": deployment " + state.deployment()
                        + " has no " + role + " node");
            }
            return ofRole;
        }
        for (String node : nodes) {
            if (node.equals("proxy")) {
                throw new UserException(ExitCodes.INVALID_INPUT, "proxy: restart takes nodes; the proxy restarts with epdctl up "
                        + "after a change of its own flags");
            }
            if (!known.contains(node)) {
                throw new UserException(ExitCodes.INVALID_INPUT, node + ": no such node in deployment " + state.deployment()
                        + " (its nodes: " + String.join(", ", known) + ")");
            }
        }
        return List.copyOf(new java.util.LinkedHashSet<>(nodes));
    }
}
