package io.epdctl.cli;

import io.epdctl.transport.HostConnections;
import io.epdctl.lifecycle.HostTargets;
import io.epdctl.lifecycle.ProcessControl;
import io.epdctl.lifecycle.Progress;
import io.epdctl.lifecycle.Teardown;
import io.epdctl.state.DeploymentState;
import io.epdctl.state.StateStore;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Map;
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

    @Mixin
    QuietOption quietOption;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        StateStore store = stateOptions.store();
        if (!name.given() && store.deployments().isEmpty()) {
            say(err, "no deployment is recorded; nothing to stop");
            return ExitCodes.OK;
        }
        String deployment = name.resolve(store);
        // Taking the lock would create the directory of a deployment that was never recorded: none, nothing to lock.
        if (!java.nio.file.Files.isDirectory(store.root().resolve(deployment))) {
            say(err, "deployment " + deployment + " is not recorded; nothing to stop");
            return ExitCodes.OK;
        }
        try (StateStore.DeploymentLock lock = store.lock(deployment)) {
            Optional<DeploymentState> recorded = store.read(deployment);
            if (recorded.isEmpty()) {
                say(err, "deployment " + deployment + " is not recorded; nothing to stop");
                return ExitCodes.OK;
            }
            DeploymentState state = recorded.get();
            try (HostConnections connections = connectionOptions.open(HostTargets.fromState(state.hosts().values()))) {
                ProcessControl control = new ProcessControl(connections);
                Teardown.Result result;
                List<String> notPurged = List.of();
                Map<String, String> containersLeft;
                try (QuietOption.Display display = quietOption.display(spec, process -> "")) {
                    Progress progress = display.progress();
                    progress.say("stopping " + deployment);
                    Teardown teardown = new Teardown(control, progress, grace);
                    result = teardown.stop(state, state.processes());
                    containersLeft = teardown.removeLeftContainers(state);
                    if (!containersLeft.isEmpty()) {
                        result = new Teardown.Result(result.state().processes().isEmpty() ? state : result.state(), result.leftBehind());
                    }
                    if (purgeEcCache) {
                        notPurged = purgeEcDirectory(state, control, progress);
                    }
                    if (result.state().processes().isEmpty()) {
                        store.delete(deployment);
                        progress.say(deployment + " is down");
                    }
                }
                // Errors, printed also with -q, and after the live lines are done.
                notPurged.forEach(problem -> err.println("epdctl: " + problem));
                containersLeft.forEach((host, problem) -> err.println("epdctl: " + host + ": " + problem));
                if (result.state().processes().isEmpty()) {
                    return ExitCodes.OK;
                }
                store.write(result.state());
                err.println("epdctl: " + deployment + " is not completely down: "
                        + String.join(", ", result.leftBehind().isEmpty() ? List.of("containers") : result.leftBehind().keySet())
                        + " left; run down again once fixed");
                return ExitCodes.FAILURE;
            }
        }
    }

    /** A message that -q leaves out. */
    private void say(PrintWriter err, String message) {
        if (!quietOption.quiet) {
            err.println("epdctl: " + message);
        }
    }

    /** Removes the EC directory on every host; returns what could not be removed. */
    private static List<String> purgeEcDirectory(DeploymentState state, ProcessControl control, Progress progress) {
        List<String> problems = new java.util.ArrayList<>();
        state.hosts().keySet().forEach(host -> {
            try {
                control.removeDirectory(host, state.ecDirectory());
                progress.note("removed the EC directory " + state.ecDirectory() + " on " + host);
            } catch (io.epdctl.transport.TransportException e) {
                problems.add("EC directory on " + host + " not removed: " + e.getMessage());
            }
        });
        return problems;
    }
}
