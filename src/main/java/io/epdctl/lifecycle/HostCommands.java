package io.epdctl.lifecycle;

import static io.epdctl.shell.Shell.quote;

import io.epdctl.state.ProcessRecord;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The shell text epdctl runs on a host, through any transport ({@link ProcessControl} runs it), and the
 * reading of what it prints. Each operation is one command, so that a slow link costs one round trip per
 * host and step. Every value is quoted. What epdctl reads back is printed as report lines ({@link #REPORT}):
 * whatever else a command prints (a setup line of the topology that echoes) is not taken for data.
 */
public final class HostCommands {
    /** The first word of every line epdctl reads back from its commands; see {@link #reports}. */
    static final String REPORT = "@epdctl";

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

    /** Reports {@code $pid} and its start time in clock ticks since boot as {@code started NAME PID TICKS}. */
    private static String reportPid(ProcessRecord node) {
        return "echo " + quote(REPORT + " started") + " " + quote(node.name())
                + " \"$pid $(cut -d' ' -f22 /proc/$pid/stat 2>/dev/null || echo 0)\"\n";
    }

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
     * pid first and the script's exit status last, so a crash is seen with its status. Reports
     * {@code started NAME PID TICKS} for each node that started.
     */
    static String startProgram(Preparation preparation, List<LaunchPlan.Launch> launches) {
        StringBuilder program = new StringBuilder("set -e\n");
        if (preparation != null) {
            program.append("{ ").append(preparation.command()).append("; } || { echo ").append(quote(preparation.what() + " failed"))
                    .append(" >&2; exit 1; }\n");
        }
        for (LaunchPlan.Launch launch : launches) {
            ProcessRecord node = launch.record();
            // Each node's commands run in a subshell of their own: the directory may be relative to the home directory.
            program.append("(mkdir -p -- ").append(quote(node.directory())).append(" && cd -- ").append(quote(node.directory()))
                    .append(" && ").append(writeAtomically(node.name() + ".sh", launch.script()))
                    .append(" && ").append(writeAtomically(Supervisor.fileName(node.name()), launch.supervisor())).append(")\n");
        }
        program.append("set +e\n");
        for (LaunchPlan.Launch launch : launches) {
            program.append(launch(launch.record())).append('\n');
        }
        program.append("i=0\n");
        for (LaunchPlan.Launch launch : launches) {
            ProcessRecord node = launch.record();
            String pidFile = quote(node.pidFile());
            // One deadline for all: the nodes started at once.
            program.append("while [ ! -s ").append(pidFile).append(" ] && [ $i -lt 1000 ]; do i=$((i + 1)); sleep 0.01; done\n")
                    .append("if pid=$(cat -- ").append(pidFile).append(" 2>/dev/null) && [ -n \"$pid\" ]; then ").append(reportPid(node))
                    .append("else echo ").append(quote(node.name() + ": no pid file after 10 s")).append(" >&2; fi\n");
        }
        return program.toString();
    }

    /**
     * How one node is started, as one line (also what {@code up --dry-run} shows): in its directory, the
     * previous run's files that speak of a run removed (pid, exit, armed, stop, exits, restarting), then its
     * {@link Supervisor} in a new session, detached from this command, stdin from /dev/null. The supervisor
     * writes its pid first, keeps the previous run's log as .log.1, runs the script with its output appended
     * to its log, and writes the exit status last. The scripts are there already.
     */
    public static String launch(ProcessRecord node) {
        String name = node.name();
        StringBuilder files = new StringBuilder();
        for (String suffix : RUN_FILES) {
            files.append(' ').append(quote(name + suffix));
        }
        return "(cd -- " + quote(node.directory()) + " && rm -f --" + files
                + " && { setsid sh " + quote("./" + Supervisor.fileName(name)) + " < /dev/null > /dev/null 2>&1 & })";
    }

    /**
     * Replaces a running process's script on its host, atomically (a restart by its supervisor reads the old or the
     * new one whole, never part of one), as a program for {@link #RUN_STDIN}: the built-in proxy's, when its backends
     * changed while it runs.
     */
    static String rewriteScript(LaunchPlan.Launch launch) {
        ProcessRecord process = launch.record();
        return "set -e\ncd -- " + quote(process.directory()) + "\n" + writeAtomically(process.name() + ".sh", launch.script()) + "\n";
    }

    /**
     * Removes every file of a stopped process from its run directory: its script, supervisor, run files and logs (the
     * temporary proxy of a hand-over, which no later command reads). The names are listed, not globbed: another
     * node's name may begin with this one's.
     */
    static String removeRunFiles(ProcessRecord process) {
        String name = process.name();
        List<String> suffixes = new java.util.ArrayList<>(List.of(".sh", ".sh.tmp", ".supervise", ".supervise.tmp", ".log",
                ".restarting.tmp"));
        suffixes.addAll(RUN_FILES);
        for (int i = 1; i <= Supervisor.KEPT_LOGS; i++) {
            suffixes.add(".log." + i);
        }
        StringBuilder files = new StringBuilder();
        for (String suffix : suffixes) {
            files.append(' ').append(quote(name + suffix));
        }
        return "cd -- " + quote(process.directory()) + " && rm -f --" + files;
    }

    /** The files of one run of a node, which a new start removes: what it says of its predecessor is no longer true. */
    private static final List<String> RUN_FILES = List.of(".pid", ".exit", ".armed", ".stop", ".exits", ".restarting");

    /** A command that prepares a host before its nodes start, and what it does, for the message when it fails. */
    record Preparation(String command, String what) {
    }

    /** Writes {@code text} to {@code file} (in the current directory) as a whole, executable, or not at all. */
    private static String writeAtomically(String file, String text) {
        String content = text.endsWith("\n") ? text : text + "\n";
        String end = endOfHereDocument(content);
        String temporary = quote(file + ".tmp");
        return "cat > " + temporary + " <<'" + end + "'\n" + content + end + "\n"
                + "chmod 755 " + temporary + " && mv -f -- " + temporary + " " + quote(file);
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

    /** For a node whose start was interrupted: its pid and start ticks from its pid file as {@link #startProgram} reports them, or nothing. */
    static String recoverPid(ProcessRecord node) {
        return "pid=$(cat -- " + quote(node.pidFile()) + " 2>/dev/null) && [ -n \"$pid\" ] || exit 0\n"
                + reportPid(node);
    }

    /** What {@link #startProgram} and {@link #recoverPid} reported: per node name, its pid and start ticks. */
    static Map<String, PidAndTicks> startedPids(String output) {
        Map<String, PidAndTicks> pids = new HashMap<>();
        for (String report : reports(output, "started")) {
            String[] fields = report.split(" ");
            if (fields.length == 3 && fields[1].matches("\\d{1,18}")) {
                pids.put(fields[0], new PidAndTicks(Long.parseLong(fields[1]), fields[2]));
            }
        }
        return pids;
    }

    record PidAndTicks(long pid, String ticks) {
    }

    /**
     * The rest of each line of {@code output} that reports {@code kind} ({@code @epdctl KIND REST}); every
     * other line is not epdctl's and is passed over.
     */
    static List<String> reports(String output, String kind) {
        String prefix = REPORT + " " + kind + " ";
        return output.lines().filter(line -> line.startsWith(prefix)).map(line -> line.substring(prefix.length())).toList();
    }

    /**
     * One report per node: {@code state NAME STATE [DETAIL]} (see {@link #FUNCTIONS}); with {@code scanLogs},
     * also {@code fatal NAME LINE} for a running node whose recent log shows a fatal error.
     */
    static String probe(List<ProcessRecord> nodes, boolean scanLogs) {
        StringBuilder script = new StringBuilder(FUNCTIONS);
        for (ProcessRecord node : nodes) {
            String name = quote(node.name());
            script.append("s=$(epd_state ").append(node.processGroup()).append(' ').append(quote(node.startTicks()))
                    .append(' ').append(quote(node.exitFile())).append(")\n")
                    .append("echo ").append(quote(REPORT + " state")).append(' ').append(name).append(" \"$s\"\n");
            script.append(supervision(node));
            if (scanLogs) {
                script.append("if [ \"$s\" = running ]; then f=$(tail -c 65536 -- ").append(quote(node.log()))
                        .append(" 2>/dev/null | grep -m 1 -F ").append(fatalPatterns()).append(" || true); ")
                        .append("[ -z \"$f\" ] || echo ").append(quote(REPORT + " fatal")).append(' ').append(name).append(" \"$f\"; fi\n");
            }
        }
        return script.toString();
    }

    /**
     * What the node's {@link Supervisor} recorded: {@code exits NAME RESTARTS EPOCH STATUS OUTCOME} (how often it
     * started the script again, and the last exit) when the script ever exited, {@code restarting NAME ATTEMPT
     * EPOCH} while it waits to start it again.
     */
    private static String supervision(ProcessRecord node) {
        String name = quote(node.name());
        String exits = quote(node.exitsFile());
        String restarting = quote(node.restartingFile());
        return "if [ -s " + exits + " ]; then echo " + quote(REPORT + " exits") + " " + name + " \"$(awk '$3 == \""
                + Supervisor.RESTART + "\" { n++ } { l = $1 \" \" $2 \" \" $3 } END { print n + 0, l }' " + exits + ")\"; fi\n"
                + "if [ -s " + restarting + " ]; then echo " + quote(REPORT + " restarting") + " " + name
                + " \"$(head -c 64 -- " + restarting + " | tr -d '\\n')\"; fi\n";
    }

    /** Marks processes armed: seen ready, so that their supervisors restart them after a crash. One command. */
    static String arm(List<ProcessRecord> processes) {
        return processes.stream().map(process -> ": > " + quote(process.armedFile()))
                .collect(Collectors.joining(" && ", "", "\n"));
    }

    /** What {@link #probe} reported, per node name; a fatal line is added to its node's state. */
    static Map<String, ProcessState> states(String output) {
        Map<String, ProcessState> states = new HashMap<>();
        for (String report : reports(output, "state")) {
            String[] fields = report.split(" ", 3);
            if (fields.length >= 2) {
                states.put(fields[0], state(fields));
            }
        }
        for (String report : reports(output, "exits")) {
            String[] fields = report.split(" ");
            if (fields.length == 5 && fields[1].matches("\\d{1,9}") && fields[2].matches("\\d{1,18}") && fields[3].matches("\\d{1,9}")) {
                ProcessState.LastExit last = new ProcessState.LastExit(java.time.Instant.ofEpochSecond(Long.parseLong(fields[2])),
                        Integer.parseInt(fields[3]), fields[4]);
                states.computeIfPresent(fields[0], (name, state) -> state.withSupervision(
                        new ProcessState.Supervision(Integer.parseInt(fields[1]), last, state.supervision().restarting())));
            }
        }
        for (String report : reports(output, "restarting")) {
            String[] fields = report.split(" ");
            if (fields.length == 3 && fields[1].matches("\\d{1,9}") && fields[2].matches("\\d{1,18}")) {
                ProcessState.Restarting next = new ProcessState.Restarting(Integer.parseInt(fields[1]),
                        java.time.Instant.ofEpochSecond(Long.parseLong(fields[2])));
                states.computeIfPresent(fields[0], (name, state) -> state.withSupervision(
                        new ProcessState.Supervision(state.supervision().restarts(), state.supervision().lastExit(), next)));
            }
        }
        for (String report : reports(output, "fatal")) {
            String[] nameAndLine = report.split(" ", 2);
            if (nameAndLine.length == 2) {
                states.computeIfPresent(nameAndLine[0], (name, state) -> state.withFatalLine(nameAndLine[1]));
            }
        }
        return states;
    }

    private static ProcessState state(String[] fields) {
        return switch (fields[1]) {
            case "running" -> ProcessState.of(ProcessState.Kind.RUNNING);
            case "orphaned" -> ProcessState.of(ProcessState.Kind.ORPHANED);
            case "reused" -> ProcessState.of(ProcessState.Kind.REUSED);
            case "exited" -> new ProcessState(ProcessState.Kind.EXITED, exitCode(fields), null, null, ProcessState.Supervision.NONE);
            default -> ProcessState.of(ProcessState.Kind.GONE);
        };
    }

    private static Integer exitCode(String[] fields) {
        try {
            return fields.length == 3 ? Integer.valueOf(fields[2].strip()) : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /**
     * Stops a node's process group: writes its stop marker (so that its supervisor restarts nothing), SIGTERM, up to {@code grace} for it to go, then SIGKILL and up to 5 s
     * more. Reports {@code stopped OUTCOME [PIDS LEFT]}, OUTCOME being terminated, killed, or the state it
     * was already in (exited CODE, gone, reused: then nothing is signalled).
     */
    static String stop(ProcessRecord node, Duration grace) {
        long group = node.processGroup();
        long graceTenths = Math.max(1, grace.toMillis() / 100);
        String report = "echo " + quote(REPORT + " stopped") + " ";
        // The stop marker first: a supervisor that sees its script exit from now on starts nothing again.
        return FUNCTIONS
                + ": > " + quote(node.stopFile()) + " 2>/dev/null || true\n"
                + "s=$(epd_state " + group + " " + quote(node.startTicks()) + " " + quote(node.exitFile()) + ")\n"
                + "case $s in exited*|gone|reused) " + report + "\"$s\"; exit 0;; esac\n"
                + "kill -TERM -" + group + " 2>/dev/null || true\n"
                + "i=0\n"
                + "while [ -n \"$(epd_members " + group + ")\" ] && [ $i -lt " + graceTenths + " ]; do sleep 0.1; i=$((i + 1)); done\n"
                + "outcome=terminated\n"
                + "if [ -n \"$(epd_members " + group + ")\" ]; then\n"
                + "  outcome=killed; kill -KILL -" + group + " 2>/dev/null || true\n"
                + "  i=0; while [ -n \"$(epd_members " + group + ")\" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done\n"
                + "fi\n"
                + report + "$outcome $(epd_members " + group + ")\n";
    }

    /** The last {@code lines} lines of a log, and with {@code follow} what is appended after. */
    static String tail(String log, int lines, boolean follow) {
        return "tail -n " + lines + (follow ? " -F " : " ") + "-- " + quote(log);
    }

    /**
     * The last {@code lines} lines of a log as of one moment: a report {@code log COUNT MTIME} (the log's
     * line count and modification time in epoch seconds), then those lines, each after a {@code |} so that
     * none is taken for a report. Only the first COUNT lines are read, so that following from line
     * COUNT + 1 ({@link #followLog}) neither repeats nor loses a line appended meanwhile.
     */
    static String logBacklog(String log, int lines) {
        String file = quote(log);
        return "c=$(wc -l < " + file + ") && m=$(stat -c %Y -- " + file + ") || exit 1\n"
                + "echo " + quote(REPORT + " log") + " \"$c $m\"\n"
                + "head -n \"$c\" -- " + file + " | tail -n " + lines + " | sed 's/^/|/'\n";
    }

    /** A log's lines from line {@code afterLine} + 1 on, and what is appended, until interrupted. */
    static String followLog(String log, long afterLine) {
        return "tail -n +" + (afterLine + 1) + " -F -- " + quote(log);
    }

    /** What {@link #logBacklog} printed: the lines, the line count and the modification time (epoch seconds). */
    static ProcessControl.LogBacklog backlog(String output) {
        List<String> reported = reports(output, "log");
        if (reported.size() != 1 || !reported.get(0).matches("\\d+ \\d+")) {
            return null;
        }
        String[] fields = reported.get(0).split(" ");
        List<String> lines = output.lines().filter(line -> line.startsWith("|")).map(line -> line.substring(1)).toList();
        return new ProcessControl.LogBacklog(lines, Long.parseLong(fields[0]), java.time.Instant.ofEpochSecond(Long.parseLong(fields[1])));
    }

    /** The kernel's TCP socket tables, parsed by {@link Listeners}. */
    static String tcpTables() {
        return "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null";
    }

    /**
     * For each socket listening on one of {@code ports}, the processes holding it: {@code listener PORT PID PGID}
     * (none for a socket whose holder this user cannot see, which is then no process of ours either).
     */
    static String listenerGroups(java.util.Collection<Integer> ports) {
        String wanted = " " + ports.stream().map(port -> String.format("%04X", port)).collect(Collectors.joining(" ")) + " ";
        return "awk -v want=" + quote(wanted) + " '$4 == \"0A\" { n = split($2, a, \":\"); if (index(want, \" \" a[n] \" \")) print a[n], $10 }' "
                + "/proc/net/tcp /proc/net/tcp6 2>/dev/null | while read -r hex inode; do\n"
                + "  for f in $(find /proc/[0-9]*/fd -lname \"socket:\\[$inode\\]\" 2>/dev/null); do\n"
                + "    pid=${f#/proc/}; pid=${pid%%/*}\n"
                + "    echo " + quote(REPORT + " listener") + " \"$((0x$hex)) $pid $(sed 's/.*) //' /proc/$pid/stat 2>/dev/null | cut -d' ' -f3)\"\n"
                + "  done\n"
                + "done\n";
    }

    /** What {@link #listenerGroups} reported: per port, the process groups of the processes holding it. */
    static Map<Integer, java.util.Set<Long>> listenerGroupsOf(String output) {
        Map<Integer, java.util.Set<Long>> groups = new HashMap<>();
        for (String report : reports(output, "listener")) {
            String[] fields = report.strip().split("\\s+");
            if (fields.length == 3) {
                try {
                    groups.computeIfAbsent(Integer.parseInt(fields[0]), port -> new java.util.TreeSet<>()).add(Long.parseLong(fields[2]));
                } catch (NumberFormatException e) {
                    // a process that ended while being read: no group
                }
            }
        }
        return groups;
    }

    /**
     * What {@code check} and {@code up} read on a host before anything starts there, in one round trip
     * (read by {@link #facts}): the TCP tables ({@code tcp}), the ephemeral port range ({@code port-range})
     * and the reserved ports ({@code reserved-ports}), {@code net.ipv4.tcp_migrate_req} ({@code migrate-req}), npu-smi's output ({@code npu-smi}, see {@link #npuSmi}),
     * the interfaces' addresses ({@code ip}: {@code ip -o addr show}), and for each of {@code npus}
     * hccn_tool's link and health ({@code hccn}, see {@link #hccn}). Every line
     * is a report line, so whatever else the login prints is not taken for a fact.
     */
    static String hostFacts(List<Integer> npus) {
        return "{ " + tcpTables() + "; }" + framed("tcp") + "\n"
                + "printf '%s %s\\n' " + quote(REPORT + " port-range") + " \"$(cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)\"\n"
                + "printf '%s %s\\n' " + quote(REPORT + " reserved-ports") + " \"$(cat /proc/sys/net/ipv4/ip_local_reserved_ports 2>/dev/null)\"\n"
                + "printf '%s %s\\n' " + quote(REPORT + " migrate-req") + " \"$(cat /proc/sys/net/ipv4/tcp_migrate_req 2>/dev/null)\"\n"
                + "{ " + npuSmi() + "; }" + framed("npu-smi") + "\n"
                + "{ ip -o addr show 2>/dev/null; }" + framed("ip") + "\n"
                + hccn(npus);
    }

    /** Each line of what comes in prefixed as a report of {@code kind}. */
    private static String framed(String kind) {
        return " | awk -v p=" + quote(REPORT + " " + kind + " ") + " '{ print p $0 }'";
    }

    /** Where the Ascend driver installs hccn_tool, which is often not on the PATH. */
    static final String HCCN_TOOL = "/usr/local/Ascend/driver/tools/hccn_tool";

    /**
     * For each NPU, {@code hccn DEVICE link TEXT} and {@code hccn DEVICE health TEXT}: what {@code hccn_tool
     * -i DEVICE -link -g} and {@code -net_health -g} print (on one line); {@code hccn absent} without hccn_tool.
     */
    static String hccn(List<Integer> npus) {
        if (npus.isEmpty()) {
            return "";
        }
        String devices = npus.stream().map(String::valueOf).collect(Collectors.joining(" "));
        String report = quote(REPORT + " hccn");
        return "h=$(command -v hccn_tool 2>/dev/null) || { [ -x " + quote(HCCN_TOOL) + " ] && h=" + quote(HCCN_TOOL) + "; }\n"
                + "if [ -n \"$h\" ]; then for i in " + devices + "; do\n"
                + "  printf '%s %s link %s\\n' " + report + " \"$i\" \"$(\"$h\" -i \"$i\" -link -g 2>&1 | tr '\\n' ' ')\"\n"
                + "  printf '%s %s health %s\\n' " + report + " \"$i\" \"$(\"$h\" -i \"$i\" -net_health -g 2>&1 | tr '\\n' ' ')\"\n"
                + "done; else printf '%s %s\\n' " + report + " " + quote(NpuLinks.ABSENT) + "; fi\n";
    }

    /** What {@link #hostFacts} reported on {@code host}. */
    static HostFacts facts(String host, String output) {
        return new HostFacts(host,
                Listeners.ports(String.join("\n", reports(output, "tcp"))),
                EphemeralPorts.parse(single(output, "port-range"), single(output, "reserved-ports")),
                single(output, "migrate-req").strip(),
                String.join("\n", reports(output, "npu-smi")),
                NpuLinks.parse(reports(output, "hccn")),
                HostFacts.interfaces(reports(output, "ip")));
    }

    /** The one report of {@code kind}, or an empty string (also for a report with nothing after its kind). */
    private static String single(String output, String kind) {
        List<String> found = reports(output, kind);
        return found.size() == 1 ? found.get(0) : "";
    }

    /** npu-smi's table, or a line saying it is not installed, or its error and a line saying it failed (read by {@link NpuSmi}). */
    static String npuSmi() {
        return "if command -v npu-smi >/dev/null 2>&1; then npu-smi info 2>&1 || echo " + quote(NpuSmi.FAILED)
                + "; else echo " + quote(NpuSmi.ABSENT) + "; fi";
    }

    /**
     * After the topology's setup lines, reports {@code path PATH} of {@code command}; fails if there is none.
     * The report starts a line of its own, whatever the setup lines printed (perhaps without a final newline).
     */
    static String commandPath(List<String> setup, String command) {
        return setupLines(setup) + "p=$(command -v " + quote(command) + ") && printf '\\n%s %s\\n' " + quote(REPORT + " path") + " \"$p\"";
    }

    /**
     * What {@code up} checks on a host before it stops anything, in one round trip: the {@link #hostFacts} for
     * {@code npus}, then for each {@code commands} entry (name to setup lines and command) {@code command NAME PATH}
     * when the command is found after its setup lines (run in a subshell: they change nothing here), {@code model
     * present} when {@code model} (may be null) exists, and {@code ec-creatable} when {@code ecDirectory} (may be
     * null) exists as a writable directory or its nearest existing parent is one. Nothing is created.
     */
    static String startCheck(List<Integer> npus, Map<String, Map.Entry<List<String>, String>> commands, String model,
            String ecDirectory) {
        StringBuilder script = new StringBuilder(hostFacts(npus));
        commands.forEach((name, command) -> script.append("( ").append(setupLines(command.getKey()))
                .append("p=$(command -v ").append(quote(command.getValue())).append(") && printf '\\n%s %s %s\\n' ")
                .append(quote(REPORT + " command")).append(' ').append(quote(name)).append(" \"$p\"\n) < /dev/null\n"));
        if (model != null) {
            script.append("if test -e ").append(quote(model)).append("; then echo ").append(quote(REPORT + " model present")).append("; fi\n");
        }
        if (ecDirectory != null) {
            script.append("d=").append(quote(ecDirectory)).append("; while [ ! -e \"$d\" ] && [ \"$d\" != / ]; do d=$(dirname -- \"$d\"); done\n")
                    .append("if [ -d \"$d\" ] && [ -w \"$d\" ]; then echo ").append(quote(REPORT + " ec-creatable")).append("; fi\n");
        }
        return script.toString();
    }

    /** Succeeds when, after the setup lines, {@code python} is a command and {@code script} is readable. */
    static String proxyScriptRunnable(List<String> setup, String python, String script) {
        return setupLines(setup) + "command -v " + quote(python) + " >/dev/null && test -r " + quote(script);
    }

    private static String setupLines(List<String> setup) {
        return setup.stream().map(line -> line + "\n").collect(Collectors.joining());
    }

    static String exists(String path) {
        return "test -e " + quote(path);
    }

    /** Succeeds when {@code directory} exists (it is created) and a file {@code probe} can be written there (it is removed again). */
    static String writable(String directory, String probe) {
        return "mkdir -p -- " + quote(directory) + " && : > " + quote(probe) + " && rm -f -- " + quote(probe);
    }

    static String writeFile(String path, String line) {
        return "echo " + quote(line) + " > " + quote(path);
    }

    static String readFile(String path) {
        return "cat -- " + quote(path);
    }

    static String removeFile(String path) {
        return "rm -f -- " + quote(path);
    }

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

    // ---- describe and collect: what a process runs with, and a host's facts for a forensics bundle ----

    /**
     * An item's output, framed: {@code line KEY TEXT} for each line it printed (stdout and stderr), then
     * {@code done KEY STATUS}; when {@code tool} is given and is not installed, only {@code missing KEY TOOL}.
     * Read by {@link #items}.
     */
    static String item(String key, String tool, String command) {
        String run = "o=$( { " + command + "\n} 2>&1 ); rc=$?\n"
                + "[ -z \"$o\" ] || printf '%s\\n' \"$o\" | awk -v p=" + quote(REPORT + " line " + key + " ") + " '{ print p $0 }'\n"
                + "echo " + quote(REPORT + " done " + key) + " \"$rc\"\n";
        if (tool == null) {
            return run;
        }
        return "if command -v " + quote(tool) + " >/dev/null 2>&1; then\n" + run + "else echo "
                + quote(REPORT + " missing " + key + " " + tool) + "; fi\n";
    }

    /** What one {@link #item} printed: its lines, its exit status (null when it never ended), or the tool that is missing. */
    record Item(List<String> lines, Integer status, String missingTool) {
        String text() {
            return lines.isEmpty() ? "" : String.join("\n", lines) + "\n";
        }
    }

    /** Every {@link #item} in {@code output}, by key. */
    static Map<String, Item> items(String output) {
        Map<String, List<String>> lines = new java.util.LinkedHashMap<>();
        Map<String, Integer> statuses = new HashMap<>();
        Map<String, String> missing = new HashMap<>();
        for (String line : reports(output, "line")) {
            int space = line.indexOf(' ');
            String key = space < 0 ? line : line.substring(0, space);
            lines.computeIfAbsent(key, k -> new java.util.ArrayList<>()).add(space < 0 ? "" : line.substring(space + 1));
        }
        for (String done : reports(output, "done")) {
            String[] fields = done.split(" ");
            if (fields.length == 2 && fields[1].matches("\\d{1,9}")) {
                lines.computeIfAbsent(fields[0], k -> new java.util.ArrayList<>());
                statuses.put(fields[0], Integer.valueOf(fields[1]));
            }
        }
        for (String report : reports(output, "missing")) {
            String[] fields = report.split(" ", 2);
            if (fields.length == 2) {
                lines.computeIfAbsent(fields[0], k -> new java.util.ArrayList<>());
                missing.put(fields[0], fields[1]);
            }
        }
        Map<String, Item> items = new java.util.LinkedHashMap<>();
        lines.forEach((key, text) -> items.put(key, new Item(List.copyOf(text), statuses.get(key), missing.get(key))));
        return items;
    }

    /** The key of a process's script item. */
    static String scriptKey(ProcessRecord process) {
        return "script:" + process.name();
    }

    static String logKey(ProcessRecord process) {
        return "log:" + process.name();
    }

    static String previousLogKey(ProcessRecord process) {
        return "previous-log:" + process.name();
    }

    static String exitsKey(ProcessRecord process) {
        return "exits:" + process.name();
    }

    /**
     * What is known of one process on its host, for {@link #facts}: {@code state NAME STATE} (as {@link #probe}),
     * {@code members NAME PIDS} (the live processes of its group), {@code exit NAME STATUS [EPOCH]} when its
     * wrapper recorded an exit status (and the file's time), its script as an item; with {@code logLines} > 0
     * also its log's last lines, the last lines of the run before's log and its supervisor's record of exits as items.
     */
    static String processFacts(ProcessRecord process, int logLines) {
        String name = quote(process.name());
        String exit = quote(process.exitFile());
        StringBuilder script = new StringBuilder();
        if (process.isStarted()) {
            script.append("s=$(epd_state ").append(process.processGroup()).append(' ').append(quote(process.startTicks()))
                    .append(' ').append(exit).append(")\n")
                    .append("echo ").append(quote(REPORT + " state")).append(' ').append(name).append(" \"$s\"\n")
                    .append("echo ").append(quote(REPORT + " members")).append(' ').append(name)
                    .append(" $(epd_members ").append(process.processGroup()).append(")\n")
                    .append(supervision(process));
        }
        script.append("if [ -s ").append(exit).append(" ]; then echo ").append(quote(REPORT + " exit")).append(' ').append(name)
                .append(" \"$(head -c 32 -- ").append(exit).append(" | tr -d '\\n')\" $(stat -c %Y -- ").append(exit)
                .append(" 2>/dev/null); fi\n");
        script.append(item(scriptKey(process), null, "cat -- " + quote(process.script())));
        if (logLines > 0) {
            script.append(item(logKey(process), null, "tail -n " + logLines + " -- " + quote(process.log())));
            script.append(item(previousLogKey(process), null, "if [ -e " + quote(process.previousLog()) + " ]; then tail -n "
                    + logLines + " -- " + quote(process.previousLog()) + "; else echo 'none: its supervisor has not started it again'; fi"));
            script.append(item(exitsKey(process), null, "if [ -e " + quote(process.exitsFile()) + " ]; then cat -- "
                    + quote(process.exitsFile()) + "; else echo 'none recorded'; fi"));
        }
        return script.toString();
    }

    /** {@link #processFacts} of some processes of one host, in one command. */
    static String facts(List<ProcessRecord> processes, int logLines) {
        StringBuilder script = new StringBuilder(FUNCTIONS);
        processes.forEach(process -> script.append(processFacts(process, logLines)));
        return script.toString();
    }

    /** What {@link #processFacts} reported of one process, besides its items. */
    record ProcessFacts(ProcessState state, List<Long> members, Integer lastExitStatus, Long lastExitEpochSeconds) {
    }

    static ProcessFacts processFacts(String output, ProcessRecord process) {
        String name = process.name();
        ProcessState state = process.isStarted() ? states(output).get(name) : ProcessState.of(ProcessState.Kind.NOT_STARTED);
        List<Long> members = new java.util.ArrayList<>();
        for (String report : reports(output, "members")) {
            String[] fields = report.strip().split("\\s+");
            if (fields[0].equals(name)) {
                for (int i = 1; i < fields.length; i++) {
                    if (fields[i].matches("\\d{1,18}")) {
                        members.add(Long.parseLong(fields[i]));
                    }
                }
            }
        }
        Integer status = null;
        Long epoch = null;
        for (String report : reports(output, "exit")) {
            String[] fields = report.strip().split("\\s+");
            if (fields[0].equals(name) && fields.length >= 2 && fields[1].matches("\\d{1,9}")) {
                status = Integer.valueOf(fields[1]);
                epoch = fields.length >= 3 && fields[2].matches("\\d{1,18}") ? Long.valueOf(fields[2]) : null;
            }
        }
        return new ProcessFacts(state, List.copyOf(members), status, epoch);
    }

    /** A host fact of a forensics bundle: the item's key (also its file name), the tool it needs, the command. */
    record HostFact(String key, String tool, String command) {
    }

    /**
     * What {@code collect} asks every host: the system, the NPUs, the addresses, the kernel's port ranges (the
     * ephemeral range a node's port must stay out of, and what is reserved), free disk where the EC directory is.
     */
    static List<HostFact> hostFacts(String ecDirectory) {
        return List.of(
                new HostFact("uname", "uname", "uname -a"),
                new HostFact("npu-smi", "npu-smi", "npu-smi info"),
                new HostFact("ip-addr", "ip", "ip -o addr"),
                new HostFact("ip_local_port_range", null, "cat /proc/sys/net/ipv4/ip_local_port_range"),
                new HostFact("ip_local_reserved_ports", null, "cat /proc/sys/net/ipv4/ip_local_reserved_ports"),
                new HostFact("df-ec", "df", "df -P -- " + quote(ecDirectory)));
    }

    /** One command for a forensics bundle of a host: its {@link #hostFacts}, then every process's facts with its log tail. */
    static String collect(String ecDirectory, List<ProcessRecord> processes, int logLines) {
        StringBuilder script = new StringBuilder(FUNCTIONS);
        hostFacts(ecDirectory).forEach(fact -> script.append(item(fact.key(), fact.tool(), fact.command())));
        processes.forEach(process -> script.append(processFacts(process, logLines)));
        return script.toString();
    }

    /**
     * The version of a node's command, asked the way its script would run it: in its directory, by the
     * script's interpreter, after the script's own lines before its {@code exec} (the setup lines). An item
     * under {@code key}.
     */
    static String commandVersion(String key, ProcessRecord process, RenderedScript script) {
        String interpreter = java.util.Arrays.stream(script.interpreter().split("\\s+")).map(io.epdctl.shell.Shell::quote)
                .collect(Collectors.joining(" "));
        String program = script.beforeCommand() + "\nexec " + quote(script.argv().get(0)) + " --version\n";
        return item(key, null, "cd -- " + quote(process.directory()) + " && " + interpreter + " -c " + quote(program) + " < /dev/null");
    }

    // ---- containers (runtime: docker): a node's script runs its container; these read and clean up after it ----

    private static String labelFilter(String label, String value) {
        return "--filter " + quote("label=" + label + "=" + value);
    }

    /**
     * For each node of {@code runtime: docker}, {@code container NAME ID STATUS EXITCODE} as {@code docker inspect}
     * sees its container, or {@code container NAME none} when there is none (read by {@link #containers}).
     */
    static String inspectContainers(List<ProcessRecord> nodes) {
        StringBuilder script = new StringBuilder();
        for (ProcessRecord node : nodes) {
            if (node.container() == null) {
                continue;
            }
            String report = quote(REPORT + " container") + " " + quote(node.name());
            script.append("if c=$(").append(quote(node.container().command())).append(" inspect -f ")
                    .append(quote("{{.Id}} {{.State.Status}} {{.State.ExitCode}}")).append(" -- ")
                    .append(quote(node.container().name())).append(" 2>/dev/null); then echo ").append(report)
                    .append(" \"$c\"; else echo ").append(report).append(" none; fi\n");
        }
        return script.toString();
    }

    /** What {@link #inspectContainers} reported, per node name; a node without a container is absent. */
    static Map<String, ContainerState> containers(String output) {
        Map<String, ContainerState> containers = new HashMap<>();
        for (String report : reports(output, "container")) {
            String[] fields = report.strip().split("\\s+");
            if (fields.length == 4 && fields[3].matches("-?\\d{1,9}")) {
                containers.put(fields[0], new ContainerState(fields[1], fields[2], Integer.parseInt(fields[3])));
            }
        }
        return containers;
    }

    /**
     * Removes (forcibly: stopped at once if it runs) every container whose labels name {@code deployment}, and
     * {@code node} unless null; then reports {@code containers-left IDS} of those still there (none: nothing after it).
     */
    static String removeContainers(String command, String deployment, String node) {
        String cli = quote(command);
        String filters = labelFilter(io.epdctl.render.ContainerLaunch.DEPLOYMENT_LABEL, deployment)
                + (node == null ? "" : " " + labelFilter(io.epdctl.render.ContainerLaunch.NODE_LABEL, node));
        return "command -v " + cli + " >/dev/null 2>&1 || { echo " + quote(command + " is not installed on this host") + " >&2; exit 1; }\n"
                + "ids=$(" + cli + " ps -aq " + filters + ") || exit 1\n"
                + "[ -z \"$ids\" ] || " + cli + " rm -f $ids >/dev/null\n"
                + "echo " + quote(REPORT + " containers-left") + " $(" + cli + " ps -aq " + filters + ")\n";
    }

    /** The container ids {@link #removeContainers} found left; null when it reported nothing. */
    static List<String> containersLeft(String output) {
        List<String> reported = reports(output + "\n", "containers-left");
        List<String> bare = output.lines().filter(line -> line.equals(REPORT + " containers-left")).toList();
        if (reported.isEmpty()) {
            return bare.isEmpty() ? null : List.of();
        }
        return List.of(reported.get(0).strip().split("\\s+")).stream().filter(id -> !id.isEmpty()).toList();
    }

    /**
     * What {@code check} needs of a docker host: {@code docker-cli PATH} or {@code docker-cli absent}, {@code docker-daemon
     * answers} or {@code docker-daemon failed TEXT}, {@code docker-image IMAGE present|absent} for each image, and
     * {@code device PATH present|absent} for each device file.
     */
    static String containerFacts(String command, List<String> images, List<String> devices) {
        String cli = quote(command);
        StringBuilder script = new StringBuilder();
        script.append("if p=$(command -v ").append(cli).append(" 2>/dev/null); then echo ").append(quote(REPORT + " docker-cli"))
                .append(" \"$p\"\n")
                // info answers only when the daemon does (podman's runs without one, and answers too)
                .append("if v=$(").append(cli).append(" info 2>&1 >/dev/null); then echo ")
                .append(quote(REPORT + " docker-daemon answers")).append("; else echo ").append(quote(REPORT + " docker-daemon failed"))
                .append(" \"$(printf '%s' \"$v\" | tr '\\n' ' ')\"; fi\n");
        for (String image : images) {
            script.append("if ").append(cli).append(" image inspect -- ").append(quote(image)).append(" >/dev/null 2>&1; then echo ")
                    .append(quote(REPORT + " docker-image present " + image)).append("; else echo ")
                    .append(quote(REPORT + " docker-image absent " + image)).append("; fi\n");
        }
        script.append("else echo ").append(quote(REPORT + " docker-cli absent")).append("; fi\n");
        for (String device : devices) {
            script.append("if [ -e ").append(quote(device)).append(" ]; then echo ").append(quote(REPORT + " device present " + device))
                    .append("; else echo ").append(quote(REPORT + " device absent " + device)).append("; fi\n");
        }
        return script.toString();
    }

    /** Pulls {@code image} with {@code command}; its progress goes to stderr. */
    static String pull(String command, String image) {
        return quote(command) + " pull -- " + quote(image) + " >&2";
    }

    /** A container as {@code docker inspect} sees it: its id, its status (created, running, exited, ...), its exit code. */
    public record ContainerState(String id, String status, int exitCode) {
        /** For tables: the id's first 12 characters (as docker ps shows it) and the status, with the exit code once it ended. */
        public String describe() {
            return id.substring(0, Math.min(12, id.length())) + " " + status + (status.equals("exited") ? " (" + exitCode + ")" : "");
        }
    }
}
