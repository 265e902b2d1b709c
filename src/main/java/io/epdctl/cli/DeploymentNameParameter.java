package io.epdctl.cli;

import io.epdctl.state.StateStore;
import java.io.IOException;
import picocli.CommandLine.Parameters;

/** The optional NAME of the commands that act on a running deployment ({@code status}, {@code down}). */
public final class DeploymentNameParameter {
    @Parameters(index = "0", arity = "0..1", paramLabel = "NAME",
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
