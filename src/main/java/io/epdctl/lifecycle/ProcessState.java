package io.epdctl.lifecycle;

/**
 * What a node's process is doing on its host, as {@link ProcessControl#probe} saw it. {@code exitCode}
 * is set for {@link Kind#EXITED}; {@code detail} says why a host was unreachable, or the fatal log line.
 */
public record ProcessState(Kind kind, Integer exitCode, String fatalLine, String detail) {

    public enum Kind {
        /** The process epdctl started is alive. */
        RUNNING,
        /** It ended; the exit status is known. */
        EXITED,
        /** It ended without leaving an exit status (killed by a signal, or the host rebooted). */
        GONE,
        /** The group's leader is gone but other processes of its group are left (engine children). */
        ORPHANED,
        /** The pid now belongs to another process: ours is long gone. */
        REUSED,
        /** Its host could not be asked. */
        UNREACHABLE,
        /** Its start was interrupted before its pid was known, and no pid file is there. */
        NOT_STARTED
    }

    static ProcessState of(Kind kind) {
        return new ProcessState(kind, null, null, null);
    }

    static ProcessState unreachable(String why) {
        return new ProcessState(Kind.UNREACHABLE, null, null, why);
    }

    ProcessState withFatalLine(String line) {
        return new ProcessState(kind, exitCode, line, detail);
    }

    public boolean isRunning() {
        return kind == Kind.RUNNING;
    }

    /** For tables and messages: "running", "exited with status 1", "host unreachable: ...". */
    public String describe() {
        return switch (kind) {
            case RUNNING -> fatalLine == null ? "running" : "running, but its log shows: " + fatalLine;
            case EXITED -> "exited with status " + exitCode;
            case GONE -> "gone (killed by a signal or the host restarted)";
            case ORPHANED -> "leader gone, other processes of its group remain";
            case REUSED -> "gone (its pid now belongs to another process)";
            case UNREACHABLE -> "host unreachable: " + detail;
            case NOT_STARTED -> "not started";
        };
    }
}
