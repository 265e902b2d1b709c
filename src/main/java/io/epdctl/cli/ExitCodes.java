package io.epdctl.cli;

/** Exit codes shared by every command, so scripts can tell a bad file from a failed deployment. */
public final class ExitCodes {
    public static final int OK = 0;
    /** The deployment, a host or a node failed at run time. */
    public static final int FAILURE = 1;
    /** The command line or the topology file is wrong; nothing was touched. */
    public static final int INVALID_INPUT = 2;
    /** A bug in epdctl: an exception nobody expected. */
    public static final int INTERNAL_ERROR = 70;

    private ExitCodes() {
    }
}
