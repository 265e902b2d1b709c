package io.epdctl.cli;

import io.epdctl.state.DeploymentState;
import io.epdctl.state.StateStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** Where epdctl keeps what it started ({@code --state-dir}), and picking a deployment by name. */
public final class StateOptions {
    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "Where epdctl keeps the state of deployments (default: $EPDCTL_HOME, else $HOME/.epdctl).")
    Path stateDir;

    public StateStore store() {
        return new StateStore(directory());
    }

    /** The state directory: {@code --state-dir}, else $EPDCTL_HOME, else ~/.epdctl. */
    public Path directory() {
        return stateDir != null ? stateDir : defaultDirectory(System.getenv(), System.getProperty("user.home"));
    }

    /**
     * $EPDCTL_HOME, else .epdctl in $HOME, else in the passwd entry's home ({@code user.home}, which the JVM
     * takes from there and not from $HOME: a shell's HOME=/tmp/x would otherwise be ignored).
     */
    static Path defaultDirectory(java.util.Map<String, String> env, String passwdHome) {
        String epdctlHome = env.get("EPDCTL_HOME");
        if (epdctlHome != null && !epdctlHome.isBlank()) {
            return Path.of(epdctlHome);
        }
        String home = env.get("HOME");
        return Path.of(home != null && !home.isBlank() ? home : passwdHome, ".epdctl");
    }

    /** {@code name} if given, else the only deployment there is; a clear error otherwise. */
    public static String deploymentName(StateStore store, String name) throws IOException {
        if (name != null) {
            return name;
        }
        List<String> deployments = store.deployments();
        if (deployments.size() == 1) {
            return deployments.get(0);
        }
        if (deployments.isEmpty()) {
            throw new UserException(ExitCodes.FAILURE, "no deployment is recorded in " + store.root() + "; nothing runs");
        }
        throw new UserException(ExitCodes.INVALID_INPUT,
                "several deployments are recorded, name one: " + String.join(", ", deployments));
    }

    /** The recorded state of {@code deployment}; a clear error when there is none. */
    public static DeploymentState recorded(StateStore store, String deployment) throws IOException {
        return store.read(deployment).orElseThrow(() ->
                new UserException(ExitCodes.FAILURE, "deployment " + deployment + " is not recorded; nothing runs"));
    }
}
