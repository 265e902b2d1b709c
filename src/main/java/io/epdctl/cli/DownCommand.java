package io.epdctl.cli;

import io.epdctl.transport.HostConnections;
import io.epdctl.lifecycle.HostTargets;
import io.epdctl.lifecycle.ProcessControl;
import io.epdctl.lifecycle.Teardown;
import io.epdctl.state.DeploymentState;
import io.epdctl.state.StateStore;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "down",
        mixinStandardHelpOptions = true,
        description = {
            "Stops a deployment: the proxy first, then every node: SIGTERM to its process group, a grace period, "
                    + "SIGKILL; then checks that no process of the group is left and its ports are closed.",
            "What cannot be stopped (an unreachable host) stays recorded for a later down."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:everything is stopped (or nothing was running)",
            "1:something is left (see the messages), the deployment is locked by another epdctl, or the state "
                    + "directory cannot be used",
            "2:invalid command line, or several deployments are recorded and none was named"})
public final class DownCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeploymentNameParameter name;

    @Mixin
    StateOptions stateOptions;

    @Mixin
    ConnectionOptions connectionOptions;

    @Option(names = "--grace", paramLabel = "DURATION", defaultValue = "30s", converter = DurationConverter.class,
            description = "Time between SIGTERM and SIGKILL (default: ${DEFAULT-VALUE}).")
    Duration grace;

    @Option(names = "--purge-ec-cache", description = "Also remove the EC directory on the hosts that used it.")
    boolean purgeEcCache;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        StateStore store = stateOptions.store();
        if (!name.given() && store.deployments().isEmpty()) {
            err.println("epdctl: no deployment is recorded; nothing to stop");
            return ExitCodes.OK;
        }
        String deployment = name.resolve(store);
        try (StateStore.DeploymentLock lock = store.lock(deployment)) {
            Optional<DeploymentState> recorded = store.read(deployment);
            if (recorded.isEmpty()) {
                err.println("epdctl: deployment " + deployment + " is not recorded; nothing to stop");
                return ExitCodes.OK;
            }
            DeploymentState state = recorded.get();
            err.println("epdctl: stopping " + deployment);
            try (HostConnections connections = connectionOptions.open(HostTargets.fromState(state.hosts().values()))) {
                ProcessControl control = new ProcessControl(connections);
                Teardown.Result result = new Teardown(control, err, grace).stop(state, state.processes());
                if (purgeEcCache) {
                    purgeEcDirectory(state, control, err);
                }
                if (result.state().processes().isEmpty()) {
                    store.delete(deployment);
                    err.println("epdctl: " + deployment + " is down");
                    return ExitCodes.OK;
                }
                store.write(result.state());
                err.println("epdctl: " + deployment + " is not completely down: "
                        + String.join(", ", result.leftBehind().keySet()) + " left; run down again once fixed");
                return ExitCodes.FAILURE;
            }
        }
    }

    private static void purgeEcDirectory(DeploymentState state, ProcessControl control, PrintWriter err) {
        state.hosts().keySet().forEach(host -> {
            try {
                control.removeDirectory(host, state.ecDirectory());
                err.println("  removed the EC directory " + state.ecDirectory() + " on " + host);
            } catch (io.epdctl.transport.TransportException e) {
                err.println("  EC directory on " + host + " not removed: " + e.getMessage());
            }
        });
    }
}
