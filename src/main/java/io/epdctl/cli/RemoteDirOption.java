package io.epdctl.cli;

import io.epdctl.lifecycle.LaunchPlan;
import io.epdctl.lifecycle.RunDirectories;
import io.epdctl.render.DeploymentRenderer;
import io.epdctl.render.ScriptTemplates;
import io.epdctl.state.StateStore;
import io.epdctl.topology.Topology;
import picocli.CommandLine.Option;

/** {@code --remote-dir DIR} of the commands that render what would run ({@code up}, {@code plan}), and that rendering. */
public final class RemoteDirOption {
    @Option(names = "--remote-dir", paramLabel = "DIR", defaultValue = RunDirectories.DEFAULT_REMOTE_ROOT,
            description = "Where scripts and logs go on SSH hosts; relative to the SSH user's home (default: ${DEFAULT-VALUE}).")
    String remoteDir;

    /** What the topology starts, with the scripts and run directories {@code up} uses. */
    LaunchPlan launchPlan(Topology topology, StateStore store, ScriptTemplates templates) {
        return LaunchPlan.of(new DeploymentRenderer(topology).render(), templates,
                new RunDirectories(topology.name(), store.root(), remoteDir, topology.hosts()));
    }
}
