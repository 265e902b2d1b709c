package io.epdctl.cli;

import io.epdctl.state.StateStore;
import java.io.IOException;
import picocli.CommandLine.Option;

/**
 * {@code -d/--deployment NAME}: how every command that acts on a recorded deployment is told which one
 * (status, down, logs, describe, collect). Left out, the only recorded deployment is meant.
 */
public final class DeploymentOption {
    @Option(names = {"-d", "--deployment"}, paramLabel = "NAME",
            description = "The deployment (its topology's name); optional when only one is recorded.")
    String name;

    /** The given name, or the only recorded deployment's. */
    public String resolve(StateStore store) throws IOException {
        return StateOptions.deploymentName(store, name);
    }

    public boolean given() {
        return name != null;
    }
}
