package io.epdctl.lifecycle;

import static io.epdctl.shell.Shell.quote;

import io.epdctl.state.ProcessRecord;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The shell text epdctl runs on a host, through any transport. Each operation is one command, so that a
 * slow link costs one round trip per host and step. Every value is quoted.
 */
final class HostCommands {

    /**
     * Shell functions the probe and stop commands share. {@code epd_members PGID}: the live (non-zombie)
     * processes of a group. {@code epd_state PGID TICKS EXITFILE}: running, reused (the pid now belongs
     * to another process), orphaned (the leader is gone but members of its group remain), exited CODE,
     * or gone.
     */
    private static final String FUNCTIONS = """
            command -v ps >/dev/null 2>&1 || { echo 'epdctl: ps (procps) is missing on this host' >&2; exit 97; }
            epd_members() { ps -e -o pgid=,pid=,stat= | awk -v g="$1" '$1 == g && $3 !~ /^Z/ { print $2 }'; }
            epd_state() {
              if [ -r "/proc/$1/stat" ]; then
                set -- "$1" "$2" "$3" $(cat "/proc/$1/stat" 2>/dev/null)
                if [ "${25}" = "$2" ] && [ "$6" != Z ]; then echo running; return; fi
                if [ "${25}" != "$2" ]; then echo reused; return; fi
              fi
              if [ -n "$(epd_members "$1")" ]; then echo orphaned; return; fi
              if [ -s "$3" ]; then echo "exited $(cat "$3")"; else echo gone; fi
            }
            """;

    /** Prints {@code $pid} and its start time in clock ticks since boot, read by {@link ProcessControl}. */
    private static final String PRINT_PID_AND_TICKS = "echo \"$pid $(cut -d' ' -f22 /proc/$pid/stat 2>/dev/null || echo 0)\"\n";

    private HostCommands() {
    }

    /** Runs the program that arrives on stdin: {@link #startProgram} is sent that way. */
    static final String RUN_STDIN = "exec /bin/sh -s";

    /**
     * Starts nodes of one host in one round trip, as a program for {@link #RUN_STDIN}: on stdin, the
     * scripts' size is not bounded by the kernel's limit on one argument. First the host is prepared
     * ({@code preparation}, may be null), then every script is written
     * (atomically, executable; a failure there starts nothing). Then each node starts in a new session
     * (so its own process group), detached from this command, stdin from /dev/null, output appended to
     * its log (the previous run's log is kept as .log.1). A wrapper shell leads the group: it writes its
     * pid first and the script's exit status last, so a crash is seen with its status. Prints
     * {@code NAME PID TICKS} for each node that started.
     */
    static String startProgram(Preparation preparation, List<LaunchPlan.Launch> launches) {
        StringBuilder program = new StringBuilder("set -e\n");
        if (preparation != null) {
            program.append("{ ").append(preparation.command()).append("; } || { echo ").append(quote(preparation.what() + " failed"))
                    .append(" >&2; exit 1; }\n");
        }
        for (LaunchPlan.Launch launch : launches) {
            ProcessRecord node = launch.record();
            String name = quote(node.name());
            String script = launch.script().endsWith("\n") ? launch.script() : launch.script() + "\n";
            String end = endOfHereDocument(script);
            // Each node's commands run in a subshell of their own: the directory may be relative to the home directory.
            program.append("(mkdir -p -- ").append(quote(node.directory())).append(" && cd -- ").append(quote(node.directory()))
                    .append(" && cat > ").append(name).append(".sh.tmp <<'").append(end).append("'\n")
                    .append(script).append(end).append('\n')
                    .append("chmod 755 ").append(name).append(".sh.tmp && mv -f -- ").append(name).append(".sh.tmp ").append(name).append(".sh)\n");
        }
        program.append("set +e\n");
        for (LaunchPlan.Launch launch : launches) {
            ProcessRecord node = launch.record();
            String name = quote(node.name());
            program.append("(cd -- ").append(quote(node.directory())).append(" && rm -f -- ").append(name).append(".pid ").append(name).append(".exit")
                    .append(" && { if [ -e ").append(name).append(".log ]; then mv -f -- ").append(name).append(".log ").append(name).append(".log.1; fi; }")
                    .append(" && { setsid sh -c 'echo $$ > \"$1.pid\"; \"./$1.sh\"; echo $? > \"$1.exit\"' sh ").append(name)
                    .append(" < /dev/null >> ").append(name).append(".log 2>&1 & })\n");
        }
        program.append("i=0\n");
        for (LaunchPlan.Launch launch : launches) {
            ProcessRecord node = launch.record();
            String pidFile = quote(node.pidFile());
            // One deadline for all: the nodes started at once.
            program.append("while [ ! -s ").append(pidFile).append(" ] && [ $i -lt 1000 ]; do i=$((i + 1)); sleep 0.01; done\n")
                    .append("if pid=$(cat -- ").append(pidFile).append(" 2>/dev/null) && [ -n \"$pid\" ]; then printf '%s ' ")
                    .append(quote(node.name())).append("; ").append(PRINT_PID_AND_TICKS)
                    .append("else echo ").append(quote(node.name() + ": no pid file after 10 s")).append(" >&2; fi\n");
        }
        return program.toString();
    }

    /** A command that prepares a host before its nodes start, and what it does, for the message when it fails. */
    record Preparation(String command, String what) {
    }

    /** A here-document delimiter that no line of {@code script} equals. */
    private static String endOfHereDocument(String script) {
        List<String> lines = script.lines().toList();
        String end = "EPDCTL_END_OF_SCRIPT";
        for (int i = 1; lines.contains(end); i++) {
            end = "EPDCTL_END_OF_SCRIPT_" + i;
        }
        return end;
    }

    /** For a node whose start was interrupted: its pid and start ticks from its pid file, or nothing. */
    static String recoverPid(ProcessRecord node) {
        return "pid=$(cat -- " + quote(node.pidFile()) + " 2>/dev/null) || exit 0\n"
                + PRINT_PID_AND_TICKS;
    }

    /**
     * One line per node: {@code NAME STATE [DETAIL]} (see {@link #FUNCTIONS}); with {@code scanLogs}, also
     * {@code NAME fatal LINE} for a running node whose recent log shows a fatal error.
     */
    static String probe(List<ProcessRecord> nodes, boolean scanLogs) {
        StringBuilder script = new StringBuilder(FUNCTIONS);
        for (ProcessRecord node : nodes) {
            String name = quote(node.name());
            script.append("s=$(epd_state ").append(node.processGroup()).append(' ').append(quote(node.startTicks()))
                    .append(' ').append(quote(node.exitFile())).append(")\n")
                    .append("echo ").append(name).append(" \"$s\"\n");
            if (scanLogs) {
                script.append("if [ \"$s\" = running ]; then f=$(tail -c 65536 -- ").append(quote(node.log()))
                        .append(" 2>/dev/null | grep -m 1 -F ").append(fatalPatterns()).append(" || true); ")
                        .append("[ -z \"$f\" ] || echo ").append(name).append(" fatal \"$f\"; fi\n");
            }
        }
        return script.toString();
    }

    /**
     * Stops a node's process group: SIGTERM, up to {@code grace} for it to go, then SIGKILL and up to 5 s
     * more. Prints {@code OUTCOME [PIDS LEFT]}, OUTCOME being terminated, killed, or the state it was
     * already in (exited, gone, reused: then nothing is signalled).
     */
    static String stop(ProcessRecord node, Duration grace) {
        long group = node.processGroup();
        long graceTenths = Math.max(1, grace.toMillis() / 100);
        return FUNCTIONS
                + "s=$(epd_state " + group + " " + quote(node.startTicks()) + " " + quote(node.exitFile()) + ")\n"
                + "case $s in exited*|gone|reused) echo \"$s\"; exit 0;; esac\n"
                + "kill -TERM -" + group + " 2>/dev/null || true\n"
                + "i=0\n"
                + "while [ -n \"$(epd_members " + group + ")\" ] && [ $i -lt " + graceTenths + " ]; do sleep 0.1; i=$((i + 1)); done\n"
                + "outcome=terminated\n"
                + "if [ -n \"$(epd_members " + group + ")\" ]; then\n"
                + "  outcome=killed; kill -KILL -" + group + " 2>/dev/null || true\n"
                + "  i=0; while [ -n \"$(epd_members " + group + ")\" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done\n"
                + "fi\n"
                + "echo $outcome $(epd_members " + group + ")\n";
    }

    /** The last {@code lines} lines of a log, and with {@code follow} what is appended after. */
    static String tail(String log, int lines, boolean follow) {
        return "tail -n " + lines + (follow ? " -F " : " ") + "-- " + quote(log);
    }

    /** The kernel's TCP socket tables, parsed by {@link Listeners}. */
    static String tcpTables() {
        return "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null";
    }

    /**
     * What {@code up} checks on a host before it starts anything there, in one round trip: the TCP tables,
     * a {@link #SEPARATOR} line, then what {@link NpuSmi#COMMAND} prints.
     */
    static String hostCheck() {
        return tcpTables() + "; echo " + SEPARATOR + "; " + NpuSmi.COMMAND;
    }

    static final String SEPARATOR = "--epdctl--";

    /** Empties {@code path} the way the guide does (rm -rf, mkdir -p); the path was validated as safe. */
    static String recreateDirectory(String path) {
        return "rm -rf -- " + quote(path) + " && mkdir -p -- " + quote(path);
    }

    static String createDirectory(String path) {
        return "mkdir -p -- " + quote(path);
    }

    static String removeDirectory(String path) {
        return "rm -rf -- " + quote(path);
    }

    private static String fatalPatterns() {
        return FatalLog.markers().stream().map(marker -> "-e " + quote(marker)).collect(Collectors.joining(" "));
    }
}
