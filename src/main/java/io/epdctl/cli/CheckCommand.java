package io.epdctl.cli;

import io.epdctl.transport.HostConnections;
import io.epdctl.lifecycle.HostTargets;
import io.epdctl.lifecycle.Preflight;
import io.epdctl.lifecycle.ProcessControl;
import io.epdctl.state.DeploymentState;
import io.epdctl.topology.Topology;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(
        name = "check",
        mixinStandardHelpOptions = true,
        description = {"Checks on every host at once, without starting anything, that up can succeed. Prints a line per "
                + "finding: its level (ok, warning, failed), the host, the check and what was found. The checks:",
            "  login         SSH login to the host",
            "  command       the vllm command is found (after the setup lines)",
            "  model         the model path exists",
            "  proxy         a script proxy's Python and script are there",
            "  ports         nothing listens yet on a node's or the proxy's ports (those the running deployment of this "
                    + "file holds itself aside)",
            "  port-range    those ports are outside the ephemeral range or reserved",
            "  hand-over     the built-in proxy's host moves queued connections in a hand-over (net.ipv4.tcp_migrate_req)",
            "  npus          the nodes' NPUs are listed by npu-smi and idle",
            "  npu-links     hccn_tool: each NPU's network port is up and healthy",
            "  npu-types     prefill and decode NPUs are of one chip family (A2 or A3)",
            "  network       an interface carries the host's address (*_SOCKET_IFNAME)",
            "  ec-directory  the EC directory is writable",
            "  ec-shared     a marker an encoder writes there is read on other hosts"},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every check passed (warnings aside)", "1:a check failed", "2:invalid command line, or the topology has errors"})
public final class CheckCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    TopologyFileParameter topologyFile;

    @Mixin
    StateOptions stateOptions;

    @Mixin
    ConnectionOptions connectionOptions;

    @Override
    public Integer call() throws InterruptedException, java.io.IOException {
        PrintWriter out = spec.commandLine().getOut();
        Topology topology = topologyFile.load(spec.commandLine().getErr());
        List<Preflight.Finding> findings;
        DeploymentState recorded = stateOptions.store().read(topology.name()).orElse(null);
        try (HostConnections connections = connectionOptions.open(HostTargets.fromTopology(topology.hosts().values()))) {
            // The deployment's own running processes hold its ports and NPUs: not taken for checking its own file.
            Preflight.Held own = recorded == null ? Preflight.Held.NOTHING
                    : Preflight.Held.by(recorded, new ProcessControl(connections).probe(recorded.processes().stream()
                            .filter(process -> topology.hosts().containsKey(process.host())).toList(), false));
            findings = new Preflight(topology, connections, own).run();
        }
        for (Preflight.Finding finding : findings) {
            out.printf("%-7s %-12s %-12s %s%n", finding.level().name().toLowerCase(Locale.ROOT), finding.host(),
                    finding.check(), finding.message());
        }
        long failed = findings.stream().filter(finding -> finding.level() == Preflight.Level.FAILED).count();
        spec.commandLine().getErr().println("epdctl: " + (failed == 0 ? "all checks passed" : failed + " checks failed"));
        return failed == 0 ? ExitCodes.OK : ExitCodes.FAILURE;
    }
}
