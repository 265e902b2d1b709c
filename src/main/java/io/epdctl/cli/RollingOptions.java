package io.epdctl.cli;

import io.epdctl.lifecycle.UpPlan;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * How a change rolls behind a running built-in proxy ({@code up}, {@code restart}; {@code plan} takes
 * {@code --max-unavailable} too, so that it says what {@code up} will do).
 */
public final class RollingOptions {
    @Option(names = "--max-unavailable", paramLabel = "N", defaultValue = "" + UpPlan.DEFAULT_MAX_UNAVAILABLE,
            description = "How many serving nodes of one role are replaced at once behind the built-in proxy "
                    + "(default: ${DEFAULT-VALUE}: a role with two or more nodes keeps serving).")
    int maxUnavailable;

    @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "30s", converter = DurationConverter.class,
            description = "How long the requests in flight on a node being replaced may take to end, once the proxy sends it "
                    + "no new ones, before it is stopped (default: ${DEFAULT-VALUE}).")
    Duration drainTimeout;

    /** {@code --max-unavailable}, checked: at least 1. */
    int maxUnavailable() {
        if (maxUnavailable < 1) {
            throw new UserException(ExitCodes.INVALID_INPUT, "--max-unavailable must be at least 1, not " + maxUnavailable);
        }
        return maxUnavailable;
    }

    Duration drainTimeout() {
        return drainTimeout;
    }
}
