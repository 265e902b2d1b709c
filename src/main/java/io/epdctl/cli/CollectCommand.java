package io.epdctl.cli;

import io.epdctl.lifecycle.ForensicsBundle;
import io.epdctl.lifecycle.ForensicsCollector;
import io.epdctl.lifecycle.HostTargets;
import io.epdctl.lifecycle.NodeProbe;
import io.epdctl.lifecycle.ProcessControl;
import io.epdctl.state.DeploymentState;
import io.epdctl.state.StateStore;
import io.epdctl.transport.HostConnections;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "collect",
        mixinStandardHelpOptions = true,
        description = {"Writes a forensics bundle of a deployment (a .tar.gz) for an issue report: the topology file, "
                + "the state, status as JSON, the proxy's /metrics, and per node its script, the last "
                + ForensicsCollector.LOG_LINES + " lines of its log and its last exit; per host uname -a, npu-smi "
                + "info, the node command's --version (after the script's setup lines), ip -o addr, the kernel's port "
                + "ranges and the free disk of the EC directory.",
            "Values of variables, flags and keys named like keys, tokens or passwords are masked everywhere, logs "
                    + "included. A host that cannot be reached is noted in the bundle's collect.txt and on stderr."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:the bundle was written (what could not be collected is listed as warnings)",
            "1:the bundle was written but no host could be reached; the file cannot be written; the deployment is not "
                    + "recorded, or the state directory cannot be used",
            "2:invalid command line, or several deployments are recorded and none was named"})
public final class CollectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeploymentOption deployment;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE.tar.gz", required = true,
            description = "Where to write the bundle (written whole or not at all).")
    Path output;

    @Mixin
    StateOptions stateOptions;

    @Mixin
    ConnectionOptions connectionOptions;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        StateStore store = stateOptions.store();
        String name = deployment.resolve(store);
        DeploymentState state = StateOptions.recorded(store, name);
        ForensicsBundle bundle;
        try (HostConnections connections = connectionOptions.open(HostTargets.fromState(state.hosts().values()))) {
            bundle = new ForensicsCollector(new ProcessControl(connections), new NodeProbe(Duration.ofSeconds(1)))
                    .collect(state, store.stateFile(name));
        }
        bundle.writeTo(output);
        bundle.warnings().forEach(warning -> err.println("epdctl: warning: " + warning));
        spec.commandLine().getOut().println(output);
        if (bundle.hostsAnswered() == 0 && !state.hosts().isEmpty()) {
            err.println("epdctl: no host of " + name + " could be reached; the bundle holds only what is recorded here");
            return ExitCodes.FAILURE;
        }
        return ExitCodes.OK;
    }
}
