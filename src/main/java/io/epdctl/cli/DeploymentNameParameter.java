package io.epdctl.cli;

import io.epdctl.state.StateStore;
import java.io.IOException;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The deployment of {@code status} and {@code down}: {@code -d/--deployment NAME} as on every command, or,
 * as these two always took it, a bare NAME (kept so that scripts written for it go on working; not shown).
 */
public final class DeploymentNameParameter {
    @Option(names = {"-d", "--deployment"}, paramLabel = "NAME",
            description = "The deployment (its topology's name); optional when only one is recorded.")
    String option;

    @Parameters(index = "0", arity = "0..1", paramLabel = "NAME", hidden = true,
            description = "The same as -d NAME (the older form).")
    String positional;

    /** The given name, or the only recorded deployment's. */
    public String resolve(StateStore store) throws IOException {
        return StateOptions.deploymentName(store, name());
    }

    public boolean given() {
        return name() != null;
    }

    private String name() {
        if (option != null && positional != null && !option.equals(positional)) {
            throw new UserException(ExitCodes.INVALID_INPUT,
                    "two deployments named: -d " + option + " and " + positional + "; name one");
        }
        return option != null ? option : positional;
    }
}
