package io.epdctl.lifecycle;

import io.epdctl.state.ProcessRecord;
import io.epdctl.transport.CommandResult;
import io.epdctl.transport.HostConnections;
import io.epdctl.transport.TransportException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Starts, probes and stops a deployment's processes on their hosts, through the hosts' transports. All
 * the process handling of {@code up}, {@code status} and {@code down} goes through here.
 */
public final class ProcessControl {
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);

    private final HostConnections hosts;

    public ProcessControl(HostConnections hosts) {
        this.hosts = hosts;
    }

    public HostConnections hosts() {
        return hosts;
    }

    /**
     * What starting nodes on one host gave: the records of those that started, with their pids, and what
     * the host said about the others (empty when all started).
     */
    record HostStart(List<ProcessRecord> started, String failure) {
    }

    /**
     * Prepares {@code host} (may be null), writes the nodes' scripts there and starts each detached in its own
     * process group: one round trip.
     */
    HostStart start(String host, HostCommands.Preparation preparation, List<LaunchPlan.Launch> launches) throws TransportException {
        CommandResult result = hosts.require(host).run(HostCommands.RUN_STDIN,
                HostCommands.startProgram(preparation, launches).getBytes(StandardCharsets.UTF_8), COMMAND_TIMEOUT);
        Map<String, HostCommands.PidAndTicks> pids = HostCommands.startedPids(result.stdout());
        List<ProcessRecord> started = new ArrayList<>();
        for (LaunchPlan.Launch launch : launches) {
            withPid(launch.record(), pids.get(launch.name())).ifPresent(started::add);
        }
        String failure = "";
        if (started.size() < launches.size()) {
            failure = result.stderr().isBlank() ? "no pid reported (exit status " + result.exitCode() + ")" : result.stderr().strip();
        }
        return new HostStart(started, failure);
    }

    /** Replaces the script of a running process on its host (see {@link HostCommands#rewriteScript}). */
    void rewriteScript(LaunchPlan.Launch launch) throws TransportException {
        ProcessRecord process = launch.record();
        CommandResult result = hosts.require(process.host()).run(HostCommands.RUN_STDIN,
                HostCommands.rewriteScript(launch).getBytes(StandardCharsets.UTF_8), COMMAND_TIMEOUT);
        if (result.exitCode() != 0) {
            throw new TransportException(process.host() + ": cannot rewrite " + process.script() + ": " + result.stderr().strip());
        }
    }

    /**
     * What {@code check} and {@code up} read on a host before starting anything: its listening ports, its
     * ephemeral port range, npu-smi's table and hccn_tool's answers for {@code npus}. One round trip.
     */
    HostFacts hostFacts(String host, List<Integer> npus) throws TransportException {
        CommandResult result = hosts.require(host).run(HostCommands.hostFacts(npus), COMMAND_TIMEOUT);
        return HostCommands.facts(host, result.stdout());
    }

    /**
     * A node whose start was interrupted (pid 0 in the state) gets its pid from the pid file on its host;
     * the record comes back unchanged when there is none.
     */
    ProcessRecord recover(ProcessRecord node) throws TransportException {
        if (node.isStarted()) {
            return node;
        }
        CommandResult result = hosts.require(node.host()).run(HostCommands.recoverPid(node), COMMAND_TIMEOUT);
        return withPid(node, HostCommands.startedPids(result.stdout()).get(node.name())).orElse(node);
    }

    /** The record with the pid and start ticks its host reported, if it reported them. */
    private static Optional<ProcessRecord> withPid(ProcessRecord node, HostCommands.PidAndTicks reported) {
        return Optional.ofNullable(reported).map(pid -> node.started(pid.pid(), pid.ticks(), Instant.now()));
    }

    /** The state of every given process: one command per host, all hosts at once. */
    public Map<String, ProcessState> probe(List<ProcessRecord> nodes, boolean scanLogs) throws InterruptedException {
        Map<String, List<ProcessRecord>> byHost = new LinkedHashMap<>();
        for (ProcessRecord node : nodes) {
            byHost.computeIfAbsent(node.host(), host -> new ArrayList<>()).add(node);
        }
        Map<String, Map<String, ProcessState>> perHost = Parallel.map(List.copyOf(byHost.keySet()),
                host -> probeHost(host, byHost.get(host), scanLogs));
        Map<String, ProcessState> states = new HashMap<>();
        perHost.values().forEach(states::putAll);
        return states;
    }

    private Map<String, ProcessState> probeHost(String host, List<ProcessRecord> nodes, boolean scanLogs) {
        Map<String, ProcessState> states = new HashMap<>();
        List<ProcessRecord> started = nodes.stream().filter(ProcessRecord::isStarted).toList();
        nodes.stream().filter(node -> !node.isStarted())
                .forEach(node -> states.put(node.name(), ProcessState.of(ProcessState.Kind.NOT_STARTED)));
        if (started.isEmpty()) {
            return states;
        }
        CommandResult result;
        try {
            result = hosts.require(host).run(HostCommands.probe(started, scanLogs), COMMAND_TIMEOUT);
            if (!result.succeeded()) {
                throw new TransportException(host + ": probing processes failed: " + result.stderr().strip());
            }
        } catch (TransportException e) {
            started.forEach(node -> states.put(node.name(), ProcessState.unreachable(e.getMessage())));
            return states;
        }
        states.putAll(HostCommands.states(result.stdout()));
        return states;
    }

    /**
     * Marks processes armed on their hosts (one command per host, all at once): they were seen ready, so their
     * supervisors restart them after a crash from now on. Returns, per host that could not be told, why.
     */
    public Map<String, String> arm(List<ProcessRecord> processes) throws InterruptedException {
        Map<String, List<ProcessRecord>> byHost = new LinkedHashMap<>();
        processes.stream().filter(ProcessRecord::isStarted)
                .forEach(process -> byHost.computeIfAbsent(process.host(), host -> new ArrayList<>()).add(process));
        Map<String, String> failures = Parallel.map(List.copyOf(byHost.keySet()), host -> {
            try {
                CommandResult result = hosts.require(host).run(HostCommands.arm(byHost.get(host)), COMMAND_TIMEOUT);
                return result.succeeded() ? "" : result.stderr().strip();
            } catch (TransportException e) {
                return e.getMessage();
            }
        });
        Map<String, String> failed = new LinkedHashMap<>();
        failures.forEach((host, why) -> {
            if (!why.isEmpty()) {
                failed.put(host, why);
            }
        });
        return failed;
    }

    /** How stopping one process went. {@code leftPids} lists processes of its group still alive after SIGKILL. */
    public record StopOutcome(String how, List<Long> leftPids) {
        public boolean clean() {
            return leftPids.isEmpty();
        }
    }

    /** SIGTERM to the process group, {@code grace}, SIGKILL; then checks that no process of the group is left. */
    StopOutcome stop(ProcessRecord node, Duration grace) throws TransportException {
        CommandResult result = hosts.require(node.host()).run(HostCommands.stop(node, grace), grace.plus(COMMAND_TIMEOUT));
        if (!result.succeeded()) {
            throw new TransportException(node.host() + ": stopping " + node.name() + " failed: " + result.stderr().strip());
        }
        List<String> reported = HostCommands.reports(result.stdout(), "stopped");
        if (reported.size() != 1) {
            throw new TransportException(node.host() + ": stopping " + node.name() + " reported no outcome: "
                    + (result.stdout() + result.stderr()).strip());
        }
        String[] fields = reported.get(0).strip().split("\\s+");
        List<Long> left = new ArrayList<>();
        int firstPid = fields[0].equals("exited") ? 2 : 1;
        for (int i = firstPid; i < fields.length; i++) {
            left.add(Long.parseLong(fields[i]));
        }
        String how = switch (fields[0]) {
            case "terminated" -> "stopped by SIGTERM";
            case "killed" -> "killed with SIGKILL after the " + grace.toSeconds() + " s grace period";
            case "exited" -> "had already exited" + (fields.length > 1 ? " with status " + fields[1] : "");
            default -> "was no longer running";
        };
        return new StopOutcome(how, left);
    }

    /** The last {@code lines} lines of the node's log, or why they cannot be read. */
    public String tail(ProcessRecord node, int lines) {
        try {
            CommandResult result = hosts.require(node.host()).run(HostCommands.tail(node.log(), lines, false), COMMAND_TIMEOUT);
            return result.succeeded() ? result.stdout() : "(cannot read " + node.log() + ": " + result.stderr().strip() + ")";
        } catch (TransportException e) {
            return "(cannot read " + node.log() + ": " + e.getMessage() + ")";
        }
    }

    /** The last lines of a log as of one moment, how many lines it had then, and when it was last written. */
    public record LogBacklog(List<String> lines, long lineCount, Instant modified) {
    }

    /** The last {@code lines} lines of the node's log; see {@link #followLog} for what comes after. */
    public LogBacklog logBacklog(ProcessRecord node, int lines) throws TransportException {
        return logBacklog(node, node.log(), lines);
    }

    private LogBacklog logBacklog(ProcessRecord node, String log, int lines) throws TransportException {
        CommandResult result = hosts.require(node.host()).run(HostCommands.logBacklog(log, lines), COMMAND_TIMEOUT);
        LogBacklog backlog = result.succeeded() ? HostCommands.backlog(result.stdout()) : null;
        if (backlog == null) {
            throw new TransportException(node.host() + ": cannot read " + node.name() + "'s log " + log + ": "
                    + (result.stderr().isBlank() ? result.stdout() : result.stderr()).strip());
        }
        return backlog;
    }

    /** A log's backlog, or why it could not be read. */
    public record LogRead(ProcessRecord process, LogBacklog backlog, String failure) {
    }

    /**
     * The backlogs of several logs, asked of their hosts all at once; in the given order. With {@code previous},
     * the log of each one's run before the current one (a crashed run's, kept by its supervisor).
     */
    public List<LogRead> logBacklogs(List<ProcessRecord> nodes, int lines, boolean previous) throws InterruptedException {
        Map<ProcessRecord, LogRead> reads = Parallel.map(nodes, node -> {
            try {
                return new LogRead(node, logBacklog(node, previous ? node.previousLog() : node.log(), lines), null);
            } catch (TransportException e) {
                return new LogRead(node, null, e.getMessage());
            }
        });
        return nodes.stream().map(reads::get).toList();
    }

    /** Copies what the node's log gets after its first {@code afterLine} lines to {@code out}, until interrupted. */
    public int followLog(ProcessRecord node, long afterLine, java.io.OutputStream out, java.io.OutputStream err)
            throws TransportException, InterruptedException {
        return hosts.require(node.host()).stream(HostCommands.followLog(node.log(), afterLine), out, err);
    }

    /** The TCP ports something listens on at {@code host}. */
    Set<Integer> listeningPorts(String host) throws TransportException {
        CommandResult result = hosts.require(host).run(HostCommands.tcpTables(), COMMAND_TIMEOUT);
        return Listeners.ports(result.stdout());
    }

    /** Per port of {@code ports} something listens on at {@code host}: the process groups holding it. */
    Map<Integer, Set<Long>> listenerGroups(String host, Set<Integer> ports) throws TransportException {
        CommandResult result = hosts.require(host).run(HostCommands.listenerGroups(ports), COMMAND_TIMEOUT);
        return HostCommands.listenerGroupsOf(result.stdout());
    }

    /** Removes a stopped process's files from its run directory on its host (see {@link HostCommands#removeRunFiles}). */
    void removeRunFiles(ProcessRecord process) throws TransportException {
        runChecked(process.host(), HostCommands.removeRunFiles(process), "removing " + process.name() + "'s files in " + process.directory());
    }

    /** Removes a directory on a host; the path was validated as an absolute, non-system path. */
    public void removeDirectory(String host, String path) throws TransportException {
        runChecked(host, HostCommands.removeDirectory(path), "removing " + path);
    }

    /** Runs a command of {@link HostCommands} on {@code host}; a non-zero exit is a result for the caller to judge. */
    CommandResult run(String host, String command) throws TransportException {
        return hosts.require(host).run(command, COMMAND_TIMEOUT);
    }

    /** Runs a command that must succeed, e.g. preparing a directory. */
    void runChecked(String host, String command, String what) throws TransportException {
        CommandResult result = run(host, command);
        if (!result.succeeded()) {
            throw new TransportException(host + ": " + what + " failed: " + result.stderr().strip());
        }
    }

    /** What a host printed for {@link HostCommands#facts}, {@link HostCommands#collect} or version items, to parse there. */
    record HostReport(String output, String stderr) {
        Map<String, HostCommands.Item> items() {
            return HostCommands.items(output);
        }

        HostCommands.ProcessFacts facts(ProcessRecord process) {
            return HostCommands.processFacts(output, process);
        }
    }

    /** The facts of some processes of one host (their state, group, last exit, script), in one round trip. */
    HostReport facts(String host, List<ProcessRecord> processes) throws TransportException {
        return report(host, HostCommands.facts(processes, 0), COMMAND_TIMEOUT);
    }

    /** A host's facts for a forensics bundle and its processes' facts with their log tails, in one round trip. */
    HostReport collect(String host, String ecDirectory, List<ProcessRecord> processes, int logLines) throws TransportException {
        return report(host, HostCommands.collect(ecDirectory, processes, logLines), COMMAND_TIMEOUT);
    }

    /** Runs item commands of {@link HostCommands} (a command's version loads all of vLLM: minutes are allowed). */
    HostReport items(String host, String commands) throws TransportException {
        return report(host, commands, Duration.ofMinutes(3));
    }

    private HostReport report(String host, String command, Duration timeout) throws TransportException {
        CommandResult result = hosts.require(host).run(command, timeout);
        if (result.exitCode() == 97) {
            throw new TransportException(host + ": " + result.stderr().strip());
        }
        return new HostReport(result.stdout(), result.stderr());
    }

    // ---- containers (runtime: docker) ----

    /** The containers of the given nodes of {@code runtime: docker}, as docker inspect sees them: one command per host, all at once. */
    public Map<String, HostCommands.ContainerState> containers(List<ProcessRecord> nodes) throws InterruptedException {
        Map<String, List<ProcessRecord>> byHost = new LinkedHashMap<>();
        nodes.stream().filter(node -> node.container() != null)
                .forEach(node -> byHost.computeIfAbsent(node.host(), host -> new ArrayList<>()).add(node));
        Map<String, Map<String, HostCommands.ContainerState>> perHost = Parallel.map(List.copyOf(byHost.keySet()), host -> {
            try {
                return HostCommands.containers(run(host, HostCommands.inspectContainers(byHost.get(host))).stdout());
            } catch (TransportException e) {
                return Map.of();
            }
        });
        Map<String, HostCommands.ContainerState> all = new HashMap<>();
        perHost.values().forEach(all::putAll);
        return all;
    }

    /**
     * Removes every container on {@code host} whose labels name the deployment (and {@code node}, unless null), and
     * returns the ids of those still there after (empty when none is).
     */
    public List<String> removeContainers(String host, String command, String deployment, String node) throws TransportException {
        CommandResult result = run(host, HostCommands.removeContainers(command, deployment, node));
        List<String> left = HostCommands.containersLeft(result.stdout());
        if (!result.succeeded() || left == null) {
            throw new TransportException(host + ": removing the containers of " + (node == null ? deployment : node) + " failed: "
                    + (result.stderr().isBlank() ? result.stdout() : result.stderr()).strip());
        }
        return left;
    }

    /** What {@code check} reads of a host's container runtime: the CLI, the daemon, the images, the device files. */
    String containerFacts(String host, String command, List<String> images, List<String> devices) throws TransportException {
        return run(host, HostCommands.containerFacts(command, images, devices)).stdout();
    }

    /** Pulls an image on a host ({@code up --pull}); a large image takes minutes. */
    void pull(String host, String command, String image) throws TransportException {
        CommandResult result = hosts.require(host).run(HostCommands.pull(command, image), Duration.ofMinutes(30));
        if (!result.succeeded()) {
            throw new TransportException(host + ": " + command + " pull " + image + " failed: " + result.stderr().strip());
        }
    }
}
