package io.epdctl.cli;

import java.util.Map;

/**
 * Exit codes shared by every command, so scripts can tell a bad file from a failed deployment. Which
 * exception ends in which code is decided in one place, {@link Failure}; every command's --help lists them.
 */
public final class ExitCodes {
    public static final int OK = 0;
    /** The deployment, a host or a node failed at run time, or the state directory cannot be used. */
    public static final int FAILURE = 1;
    /** The command line, the topology file or a template is wrong; nothing was touched. */
    public static final int INVALID_INPUT = 2;
    /** {@code plan}: up would start, restart or stop something (0 is "nothing to do"). */
    public static final int CHANGES = 3;
    /** A bug in epdctl: an exception nobody expected. */
    public static final int INTERNAL_ERROR = 70;
    /** Interrupted: Ctrl-C (the JVM exits 128 + SIGINT) or an interrupted wait, reported the same way. */
    public static final int INTERRUPTED = 130;

    /**
     * Codes any command may end with; {@link Main} adds them to every command's --help after its own (a
     * command may word one its own way). 143 is the JVM's own on SIGTERM.
     */
    static final Map<String, String> EVERY_COMMAND = Map.of(
            "70", "internal error in epdctl (EPDCTL_DEBUG=1 prints the stack trace)",
            "130", "interrupted (SIGINT, Ctrl-C)",
            "143", "terminated (SIGTERM)");

    private ExitCodes() {
    }
}
