package io.epdctl.cli;

import io.epdctl.lifecycle.Deployer;
import io.epdctl.lifecycle.HostCommands;
import io.epdctl.lifecycle.ImagePull;
import io.epdctl.transport.HostConnections;
import io.epdctl.lifecycle.LaunchPlan;
import io.epdctl.lifecycle.NodeProbe;
import io.epdctl.lifecycle.ProcessControl;
import io.epdctl.state.ProcessRecord;
import io.epdctl.state.StateStore;
import io.epdctl.topology.Topology;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "up",
        mixinStandardHelpOptions = true,
        description = {
            "Starts a deployment and waits until it is really ready: every node alive, /health 200 and its model "
                    + "listed; then the proxy; then one request with an image through the proxy.",
            "It prints the plan first (see epdctl plan): running it again on an unchanged, healthy deployment does nothing; "
                    + "changed or dead nodes are restarted alone, nodes still loading are waited for. Before it stops "
                    + "anything, it checks on every host that what it starts can start there (the command after the setup "
                    + "lines, the model path, free ports and NPUs, the EC directory); if not, nothing is touched.",
            "Behind the running built-in proxy a change rolls: new nodes first; each node to restart or stop is drained in the "
                    + "proxy (--drain-timeout), removed, stopped, started again and added back once ready, at most "
                    + "--max-unavailable serving nodes of a role at a time; a change of the proxy's backends alone reconfigures it "
                    + "while it runs, a change of its own flags hands over to a new proxy on the same port.",
            "Prints the proxy's endpoint on stdout."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:the deployment is ready", "1:a host or node failed (what this run started is stopped), another epdctl is changing the "
                    + "deployment, or the state directory cannot be used",
            "2:invalid command line, topology or template; nothing was touched"})
public final class UpCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    TopologyFileParameter topologyFile;

    @Mixin
    TemplatesOption templatesOption;

    @Mixin
    StateOptions stateOptions;

    @Mixin
    ConnectionOptions connectionOptions;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30m", converter = DurationConverter.class,
            description = "How long to wait for the nodes to be ready (large models load for minutes; default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Option(names = "--grace", paramLabel = "DURATION", defaultValue = "30s", converter = DurationConverter.class,
            description = "How long a process being replaced or cleaned up gets between SIGTERM and SIGKILL (default: ${DEFAULT-VALUE}).")
    Duration grace;

    @Option(names = "--keep-on-failure", description = "Leave what this run started running when it fails, to inspect it.")
    boolean keepOnFailure;

    @Option(names = "--pull", description = "First pull the image of every node that runs in a container, on its host.")
    boolean pull;

    @Option(names = "--dry-run", description = "Print the plan (as epdctl plan does) and change nothing.")
    boolean dryRun;

    @Option(names = "--scripts", description = "With --dry-run: also print each process's script, where it would run "
            + "and the exact command that starts it.")
    boolean scripts;

    @Mixin
    RemoteDirOption remoteDir;

    @Option(names = "--poll-interval", paramLabel = "DURATION", defaultValue = "150ms", converter = DurationConverter.class,
            description = "How often the nodes' processes and readiness are polled (default: ${DEFAULT-VALUE}).")
    Duration pollInterval;

    @Mixin
    QuietOption quietOption;

    @Mixin
    RollingOptions rolling;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Topology topology = topologyFile.load(err);
        StateStore store = stateOptions.store();
        LaunchPlan plan = remoteDir.launchPlan(topology, store, templatesOption.templates());
        if (dryRun) {
            out.println("# epdctl up --dry-run: deployment " + topology.name() + "; nothing was changed.");
            PlanCommand.plan(topology, plan, store, connectionOptions, rolling.maxUnavailable(), err).lines().forEach(out::println);
            if (scripts) {
                printScripts(out, plan);
            }
            return ExitCodes.OK;
        }
        if (scripts) {
            throw new UserException(ExitCodes.INVALID_INPUT, "--scripts is an option of --dry-run");
        }
        try (StateStore.DeploymentLock lock = store.lock(topology.name())) {
            try (HostConnections connections = connectionOptions.openForChange(topology, store.read(topology.name()).orElse(null), err)) {
                usedHostsReachable(topology, connections);
                ProcessControl control = new ProcessControl(connections);
                Map<String, ProcessRecord> records = new LinkedHashMap<>();
                plan.all().forEach(launch -> records.put(launch.name(), launch.record()));
                String endpoint;
                try (QuietOption.Display display = quietOption.display(spec,
                        process -> lastLine(control.tail(records.get(process), 1)))) {
                    if (pull) {
                        new ImagePull(control, display.progress()).pull(topology);
                    }
                    Deployer deployer = new Deployer(topology, topologyFile.file(), plan, store, control,
                            new NodeProbe(Duration.ofSeconds(2)), display.progress(),
                            new Deployer.Options(timeout, grace, pollInterval, keepOnFailure,
                                    rolling.maxUnavailable(), rolling.drainTimeout()));
                    endpoint = up(deployer, topology, err);
                }
                // After the live lines are done: on one terminal, stdout shares their screen.
                out.println(endpoint);
                return ExitCodes.OK;
            }
        }
    }

    /** The last line of a tail; the tail of an unreadable log says why in one line too. */
    private static String lastLine(String tail) {
        String[] lines = tail.strip().split("\n");
        return lines[lines.length - 1];
    }

    /** The endpoint, once up; interrupted (Ctrl-C, a lost terminal), what was started is recorded: says how to clean it. */
    private static String up(Deployer deployer, Topology topology, PrintWriter err) throws Exception {
        Thread hint = new Thread(() -> err.println("epdctl: up interrupted; what it started is recorded: "
                + "epdctl down -d " + topology.name() + " stops it"));
        Runtime.getRuntime().addShutdownHook(hint);
        try {
            return deployer.up();
        } finally {
            Runtime.getRuntime().removeShutdownHook(hint);
        }
    }

    private static void usedHostsReachable(Topology topology, HostConnections connections) {
        for (String host : topology.hosts().keySet()) {
            if (connections.failures().containsKey(host)) {
                throw new UserException(ExitCodes.FAILURE, "host " + host + " cannot be reached; nothing was started");
            }
        }
    }

    private static void printScripts(PrintWriter out, LaunchPlan plan) {
        for (LaunchPlan.Launch launch : plan.all()) {
            var record = launch.record();
            out.println();
            out.println("# ==> " + record.name() + " (" + record.role() + ") on host " + record.host()
                    + ": " + record.script() + ", log " + record.log() + " <==");
            out.println("# started as: " + HostCommands.launch(record));
            out.println(launch.script());
        }
    }
}
