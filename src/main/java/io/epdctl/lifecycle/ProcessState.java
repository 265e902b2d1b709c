package io.epdctl.lifecycle;

/**
 * What a node's process is doing on its host, as {@link ProcessControl#probe} saw it. {@code exitCode}
 * is set for {@link Kind#EXITED}; {@code detail} says why a host was unreachable, or the fatal log line;
 * {@code supervision} is what its {@link Supervisor} recorded (never null).
 */
public record ProcessState(Kind kind, Integer exitCode, String fatalLine, String detail, Supervision supervision) {

    /** One exit of the node's script: when, its status (128 + N for signal N), and what the supervisor did then. */
    public record LastExit(java.time.Instant at, int status, String outcome) {
        /** "exited with status 1", "killed by signal 9 (KILL)". */
        public String describe() {
            return signal() == null ? "exited with status " + status : "killed by signal " + (status - 128) + " (" + signal() + ")";
        }

        /** The signal's name when the status says a signal ended it (as the shell reports it: 128 + N), else null. */
        public String signal() {
            return status > 128 && status < 128 + SIGNALS.size() ? SIGNALS.get(status - 128) : null;
        }

        public boolean crashLoop() {
            return Supervisor.CRASH_LOOP.equals(outcome);
        }
    }

    /** Linux's signal names by number, for the ones a node dies of. */
    private static final java.util.List<String> SIGNALS = java.util.List.of("0", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT",
            "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM");

    /** The supervisor waits to start attempt {@code attempt} at {@code at}. */
    public record Restarting(int attempt, java.time.Instant at) {
    }

    /** How often the supervisor started the script again, its last exit (or null), and whether it waits to start it again (or null). */
    public record Supervision(int restarts, LastExit lastExit, Restarting restarting) {
        public static final Supervision NONE = new Supervision(0, null, null);
    }

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
        return new ProcessState(kind, null, null, null, Supervision.NONE);
    }

    static ProcessState unreachable(String why) {
        return new ProcessState(Kind.UNREACHABLE, null, null, why, Supervision.NONE);
    }

    ProcessState withFatalLine(String line) {
        return new ProcessState(kind, exitCode, line, detail, supervision);
    }

    ProcessState withSupervision(Supervision what) {
        return new ProcessState(kind, exitCode, fatalLine, detail, what);
    }

    /** Alive, but between two runs of its script: the supervisor waits to start it again. */
    public boolean isRestarting() {
        return kind == Kind.RUNNING && supervision.restarting() != null;
    }

    /** Its supervisor gave up: too many exits within the window. */
    public boolean isCrashLoop() {
        return kind != Kind.RUNNING && supervision.lastExit() != null && supervision.lastExit().crashLoop();
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
