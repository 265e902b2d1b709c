package io.epdctl.cli;

import io.epdctl.lifecycle.Deployer;
import io.epdctl.lifecycle.HostCommands;
import io.epdctl.lifecycle.HostTargets;
import io.epdctl.lifecycle.ImagePull;
import io.epdctl.transport.HostConnections;
import io.epdctl.lifecycle.LaunchPlan;
import io.epdctl.lifecycle.NodeProbe;
import io.epdctl.lifecycle.ProcessControl;
import io.epdctl.lifecycle.RunDirectories;
import io.epdctl.render.DeploymentRenderer;
import io.epdctl.state.ProcessRecord;
import io.epdctl.state.StateStore;
import io.epdctl.topology.Topology;
import io.epdctl.transport.HostTarget;
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
            "Running it again on an unchanged, healthy deployment does nothing; changed nodes are restarted alone.",
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

    @Option(names = "--dry-run", description = "Print what would be started where, and change nothing.")
    boolean dryRun;

    @Option(names = "--remote-dir", paramLabel = "DIR", defaultValue = RunDirectories.DEFAULT_REMOTE_ROOT,
            description = "Where scripts and logs go on SSH hosts; relative to the SSH user's home (default: ${DEFAULT-VALUE}).")
    String remoteDir;

    @Option(names = "--poll-interval", paramLabel = "DURATION", defaultValue = "150ms", converter = DurationConverter.class,
            description = "How often the nodes' processes and readiness are polled (default: ${DEFAULT-VALUE}).")
    Duration pollInterval;

    @Mixin
    QuietOption quietOption;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Topology topology = topologyFile.load(err);
        StateStore store = stateOptions.store();
        LaunchPlan plan = LaunchPlan.of(new DeploymentRenderer(topology).render(), templatesOption.templates(),
                new RunDirectories(topology.name(), store.root(), remoteDir, topology.hosts()));
        if (dryRun) {
            printPlan(out, topology, plan);
            return ExitCodes.OK;
        }
        try (StateStore.DeploymentLock lock = store.lock(topology.name())) {
            Map<String, HostTarget> hosts = new LinkedHashMap<>();
            topology.hosts().forEach((name, host) -> hosts.put(name, HostTargets.target(host)));
            store.read(topology.name()).ifPresent(previous ->
                    previous.hosts().forEach((name, host) -> hosts.putIfAbsent(name, HostTargets.target(host))));
            try (HostConnections connections = connectionOptions.open(hosts.values())) {
                connections.failures().forEach((host, why) -> err.println("epdctl: " + why.getMessage()));
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
                            new Deployer.Options(timeout, grace, pollInterval, keepOnFailure));
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

    private static void printPlan(PrintWriter out, Topology topology, LaunchPlan plan) {
        out.println("# epdctl up --dry-run: deployment " + topology.name() + "; nothing was changed.");
        out.println("# EC directory " + topology.ecTransfer().sharedStoragePath()
                + ": emptied on encoder hosts, created on the others.");
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
