package io.epdctl.lifecycle;

import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
import io.epdctl.topology.KvFlow;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * What {@code up} will do, decided from the topology's launches, the recorded state and what the probes saw
 * ({@link #decide}, a pure function): one row per node in file order, then the recorded processes no longer in
 * the topology, then the proxy; what happens to the EC directory on each host; which roles are briefly without
 * a backend; and what happens to the proxy. The plan is data: {@link Deployer} carries it out (a rolling
 * executor can carry out the same rows in another order).
 */
public record UpPlan(List<Row> rows, String ecDirectory, Map<String, EcAction> ec, List<String> rolesWithoutBackend,
        ProxyChange proxy, RolloutOrder rollout, int maxUnavailable) {

    /** Serving nodes of one role replaced at once unless {@code --max-unavailable} says otherwise. */
    public static final int DEFAULT_MAX_UNAVAILABLE = 1;

    public enum Action {
        /** Unchanged and ready: left alone. */
        KEEP,
        /** Unchanged and alive, still loading: left alone, and waited for. */
        WAIT,
        /** Not running and nothing to stop first. */
        START,
        /** Stopped, then started again: it changed or is dead. */
        RESTART,
        /** Stopped: no longer in the topology. */
        STOP,
        /** The built-in proxy, kept running: only its backends change, through its control channel. */
        RECONFIGURE;

        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** What happens to the EC directory on a host before nodes start there. */
    public enum EcAction { EMPTIED, CREATED }

    /**
     * What happens to the proxy: kept, started, restarted, (the built-in proxy when only its backends change)
     * reconfigured while it runs, or (the built-in proxy, its own flags changed, on the same host and port) restarted
     * with a hand-over: the new one listens before the old one stops.
     */
    public enum ProxyChange { KEPT, STARTED, RESTARTED, RECONFIGURED, HANDED_OVER }

    /**
     * A process as the probes saw it: its state on its host, and, when it runs, what it answered over HTTP
     * (null when it does not run). For the built-in proxy, {@code proxyBackends} are the backends its control channel
     * lists ({@code decode 10.0.0.2:8000}), null when it was not asked or could not answer. For a node,
     * {@code unhealthyFor} is how long the running built-in proxy's probes have found it unhealthy since it was last
     * healthy there, null when it is healthy, has not been yet, or no such proxy was asked.
     */
    public record Observation(ProcessState process, NodeProbe.Readiness readiness, List<String> proxyBackends,
            Duration unhealthyFor) {
        public Observation(ProcessState process, NodeProbe.Readiness readiness) {
            this(process, readiness, null, null);
        }

        public Observation(ProcessState process, NodeProbe.Readiness readiness, List<String> proxyBackends) {
            this(process, readiness, proxyBackends, null);
        }
    }

    /**
     * An unchanged node that answered before and has not since for this long (its proxy's probes say so) is restarted:
     * it hangs (its engine may be stuck while the process lives); under that, up waits for it.
     */
    public static final Duration UNHEALTHY_RESTART = Duration.ofSeconds(30);

    /** How the proxy names a backend: {@code decode 10.0.0.2:8000}. */
    public static String backendKey(String role, String address, int port) {
        return role + " " + address + ":" + port;
    }

    /** The key of a node's backend. */
    public static String backendKey(ProcessRecord process) {
        return backendKey(process.role(), process.address(), process.port());
    }

    /**
     * One row: the action, the process, and why. {@code previous} is its record in the state (null when there
     * is none); {@code launch} what the topology starts now (null for a stop).
     */
    public record Row(Action action, String name, String role, String host, String reason, ProcessRecord previous,
            LaunchPlan.Launch launch) {

        /** {@code restart d0 (decode on local): --max-num-seqs 128 -> 96}. */
        public String line() {
            return action.word() + " " + name + " (" + role + " on " + host + "): " + reason;
        }

        /** Whether a process is stopped for this row: a recorded one for a restart or a stop. */
        public boolean stops() {
            return previous != null && (action == Action.RESTART || action == Action.STOP);
        }

        public boolean starts() {
            return action == Action.START || action == Action.RESTART;
        }
    }

    /** Nothing to start or stop: every row is kept or waited for. */
    public boolean unchanged() {
        return rows.stream().allMatch(row -> row.action() == Action.KEEP || row.action() == Action.WAIT);
    }

    public List<LaunchPlan.Launch> toStart() {
        return rows.stream().filter(Row::starts).map(Row::launch).toList();
    }

    public List<ProcessRecord> toStop() {
        return rows.stream().filter(Row::stops).map(Row::previous).toList();
    }

    /** The rows' lines, then the EC directory, the roles without a backend and the proxy. */
    public List<String> lines() {
        List<String> lines = new ArrayList<>(rows.stream().map(Row::line).toList());
        lines.addAll(summary());
        return lines;
    }

    public List<String> summary() {
        List<String> lines = new ArrayList<>();
        lines.add("EC directory " + ecDirectory + ": " + ecLine());
        if (rollout != null && !rollout.waves().isEmpty()) {
            List<String> waves = new ArrayList<>();
            for (int i = 0; i < rollout.waves().size(); i++) {
                waves.add((i + 1) + ". " + rollout.waves().get(i).describe());
            }
            lines.add("rolling, at most " + maxUnavailable + " serving node" + (maxUnavailable == 1 ? "" : "s")
                    + " of a role at a time, each drained in the proxy before it stops and added once ready: " + String.join("; ", waves));
        }
        lines.add("roles briefly without a backend: " + (rolesWithoutBackend.isEmpty() ? "none" : String.join(", ", rolesWithoutBackend)));
        if (rollout != null && !rolesWithoutBackend.isEmpty()) {
            lines.add("meanwhile the proxy answers their requests with 503 and Retry-After");
        }
        Row proxyRow = rows.get(rows.size() - 1);
        lines.add("proxy: " + switch (proxy) {
            case KEPT -> "kept";
            case STARTED -> "started";
            case RESTARTED -> "restarted; its endpoint is briefly unavailable";
            case RECONFIGURED -> "reconfigured while it runs (" + proxyRow.reason() + ")";
            case HANDED_OVER -> "restarted with a hand-over: the new one listens on the same port before the old one stops "
                    + "and drains, no connection is refused";
        });
        return lines;
    }

    private String ecLine() {
        if (ec.isEmpty()) {
            return "untouched";
        }
        List<String> parts = new ArrayList<>();
        for (EcAction action : EcAction.values()) {
            List<String> hosts = ec.entrySet().stream().filter(entry -> entry.getValue() == action).map(Map.Entry::getKey).toList();
            if (!hosts.isEmpty()) {
                parts.add(action.name().toLowerCase(Locale.ROOT) + " on " + String.join(", ", hosts));
            }
        }
        return String.join("; ", parts);
    }

    /**
     * The plan. {@code previous} may be null (nothing recorded); {@code observed} has an observation per recorded
     * process, by name; {@code now} dates how long a loading node has been loading.
     */
    public static UpPlan decide(LaunchPlan desired, DeploymentState previous, Map<String, Observation> observed,
            String ecDirectory, Instant now) {
        return decide(desired, previous, observed, ecDirectory, now, DEFAULT_MAX_UNAVAILABLE);
    }

    /**
     * The plan, rolling behind the proxy when it is the built-in one and stays running: at most {@code maxUnavailable}
     * serving nodes of a role at a time (see {@link RolloutOrder}).
     */
    public static UpPlan decide(LaunchPlan desired, DeploymentState previous, Map<String, Observation> observed,
            String ecDirectory, Instant now, int maxUnavailable) {
        Map<String, ProcessRecord> recorded = new LinkedHashMap<>();
        if (previous != null) {
            previous.processes().forEach(process -> recorded.put(process.name(), process));
        }
        List<Row> rows = new ArrayList<>();
        for (LaunchPlan.Launch launch : desired.nodes()) {
            rows.add(row(launch, recorded.get(launch.name()), observed, previous == null, now));
        }
        rows = asGroups(rows);
        Set<String> wanted = new LinkedHashSet<>();
        desired.all().forEach(launch -> wanted.add(launch.name()));
        for (ProcessRecord process : recorded.values()) {
            if (!wanted.contains(process.name())) {
                rows.add(new Row(Action.STOP, process.name(), process.role(), process.host(), "no longer in the topology", process, null));
            }
        }
        List<Row> nodeRows = List.copyOf(rows);
        Row proxy = row(desired.proxy(), recorded.get(desired.proxy().name()), observed, previous == null, now);
        Observation proxySeen = observed.get(desired.proxy().name());
        boolean running = proxySeen != null && proxySeen.process() != null && proxySeen.process().isRunning()
                && !proxySeen.process().isRestarting();
        // A proxy whose KV flow changes (another connector) cannot serve the nodes of the old flow while they roll.
        String flow = proxy.action() == Action.RESTART ? kvFlowChange(proxy) : null;
        if (flow != null) {
            proxy = new Row(proxy.action(), proxy.name(), proxy.role(), proxy.host(), proxy.reason() + " (its KV flow changes, "
                    + flow + ": the nodes of both flows cannot be served at once, so nothing rolls)", proxy.previous(), proxy.launch());
        }
        boolean handOver = flow == null && desired.liveProxy() && running && proxy.action() == Action.RESTART && proxy.previous().isStarted()
                && deadReason(proxy.previous(), proxySeen) == null && proxy.previous().host().equals(proxy.launch().record().host())
                && proxy.previous().port() == proxy.launch().record().port();
        // A proxy still starting (not ready, its control channel not answering yet) cannot take nodes out: nothing rolls.
        boolean live = desired.liveProxy() && running && (proxy.action() == Action.KEEP || handOver
                || (proxy.action() == Action.WAIT && proxySeen.proxyBackends() != null));
        if (live && !handOver) {
            String backends = backendChanges(desired, recorded, proxySeen);
            if (!backends.isEmpty()) {
                proxy = new Row(Action.RECONFIGURE, proxy.name(), proxy.role(), proxy.host(), backends, proxy.previous(), proxy.launch());
            }
        }
        if (!desired.liveProxy() && proxy.action() == Action.RESTART
                && (proxy.reason().contains("-hosts ") || proxy.reason().contains("-ports "))) {
            proxy = new Row(proxy.action(), proxy.name(), proxy.role(), proxy.host(),
                    proxy.reason() + " (the script proxy cannot change its backends while it runs)", proxy.previous(), proxy.launch());
        }
        rows.add(proxy);
        RolloutOrder rollout = null;
        if (live) {
            Set<String> serving = new LinkedHashSet<>();
            for (Row row : nodeRows) {
                Observation seen = observed.get(row.name());
                if (row.previous() != null && seen != null && seen.process() != null && seen.process().isRunning()) {
                    serving.add(row.name());
                }
            }
            rollout = RolloutOrder.of(nodeRows, serving, maxUnavailable);
        }
        return new UpPlan(List.copyOf(rows), ecDirectory, ec(desired, rows, previous == null),
                rollout != null ? rollout.rolesWithoutBackend() : rolesWithoutBackend(rows, observed), switch (proxy.action()) {
                    case KEEP, WAIT -> ProxyChange.KEPT;
                    case RECONFIGURE -> ProxyChange.RECONFIGURED;
                    case START -> ProxyChange.STARTED;
                    case RESTART, STOP -> handOver ? ProxyChange.HANDED_OVER : ProxyChange.RESTARTED;
                }, rollout, maxUnavailable);
    }

    /**
     * The processes of a node over several hosts start and restart together: vLLM's ranks form their group once, when
     * the first host's process starts, so a rank started alone would wait for a group that is never formed again, and
     * a first host's process restarted alone waits for ranks that still belong to its old run. Every kept or awaited
     * process of a group of which another starts or restarts is restarted with it, saying why.
     */
    static List<Row> asGroups(List<Row> rows) {
        Map<String, Row> moving = new LinkedHashMap<>();
        for (Row row : rows) {
            String group = group(row);
            if (group != null && row.starts()) {
                moving.putIfAbsent(group, row);
            }
        }
        List<Row> grouped = new ArrayList<>();
        for (Row row : rows) {
            Row cause = moving.get(group(row));
            if (cause != null && !row.starts() && row.previous() != null && row.launch() != null
                    && (row.action() == Action.KEEP || row.action() == Action.WAIT)) {
                grouped.add(new Row(Action.RESTART, row.name(), row.role(), row.host(), "with its group " + group(row) + " ("
                        + cause.action().word() + " " + cause.name() + ": " + cause.reason() + ")", row.previous(), row.launch()));
            } else {
                grouped.add(row);
            }
        }
        return grouped;
    }

    /** The node over several hosts a row's process belongs to, or null. */
    static String group(Row row) {
        ProcessRecord record = row.launch() != null ? row.launch().record() : row.previous();
        return record == null ? null : record.group();
    }

    /**
     * The plan of {@code epdctl restart}: the nodes {@code names} restarted, rolling behind the running built-in proxy,
     * and nothing else changed (not even what the file changed for other nodes: that is up's). Refused, saying why for
     * each, when the proxy is not the built-in one running, or a named node was never started or the file changed it
     * since (a restart would start it with the change: {@code up} does that).
     */
    public static UpPlan forRestart(UpPlan planned, Map<String, Observation> observed, List<String> names, String topologyFile,
            int maxUnavailable) throws DeploymentException {
        List<String> problems = new ArrayList<>();
        if (planned.rollout() == null) {
            problems.add("the proxy is not the built-in one running (" + planned.rows().get(planned.rows().size() - 1).line()
                    + "): only it can take a node out while it restarts; epdctl up restarts what changed");
        }
        // Naming one process of a node over several hosts restarts all of them (see asGroups).
        Set<String> groups = new LinkedHashSet<>();
        planned.rows().stream().filter(row -> names.contains(row.name()) && group(row) != null).forEach(row -> groups.add(group(row)));
        List<String> asked = new ArrayList<>(names);
        planned.rows().stream().filter(row -> groups.contains(group(row)) && !asked.contains(row.name()))
                .forEach(row -> asked.add(row.name()));
        List<Row> rows = new ArrayList<>();
        Set<String> serving = new LinkedHashSet<>();
        for (Row row : planned.rows()) {
            if (row.role().equals("proxy")) {
                rows.add(new Row(Action.KEEP, row.name(), row.role(), row.host(), "left alone", row.previous(), row.launch()));
                continue;
            }
            Observation seen = row.previous() == null ? null : observed.get(row.name());
            if (seen != null && seen.process() != null && seen.process().isRunning()) {
                serving.add(row.name());
            }
            if (!asked.contains(row.name())) {
                rows.add(new Row(Action.KEEP, row.name(), row.role(), row.host(), "left alone", row.previous(), row.launch()));
            } else if (row.previous() == null || row.launch() == null || (row.action() == Action.START && !row.previous().isStarted())) {
                problems.add(row.name() + ": " + (row.launch() == null ? "no longer in " + topologyFile : "not started yet")
                        + "; epdctl up " + topologyFile + " does what the file says");
            } else if (!row.previous().specHash().equals(row.launch().record().specHash())) {
                problems.add(row.name() + ": " + topologyFile + " changed it since it started (" + row.reason() + "); epdctl up "
                        + topologyFile + " restarts it with the change");
            } else {
                String why = row.action() == Action.RESTART ? "restart asked; " + row.reason() : "restart asked";
                rows.add(new Row(Action.RESTART, row.name(), row.role(), row.host(), why, row.previous(), row.launch()));
            }
        }
        if (!problems.isEmpty()) {
            throw new DeploymentException(String.join("\n", problems) + "\nnothing was restarted");
        }
        List<Row> nodeRows = rows.subList(0, rows.size() - 1);
        RolloutOrder rollout = RolloutOrder.of(List.copyOf(nodeRows), serving, maxUnavailable);
        return new UpPlan(List.copyOf(rows), planned.ecDirectory(), Map.of(), rollout.rolesWithoutBackend(), ProxyChange.KEPT,
                rollout, maxUnavailable);
    }

    /**
     * The built-in proxy's backends the file wants and it does not have ({@code + d1 (127.0.0.1:8010)}) and those it
     * has and the file does not want ({@code - d0 (...)}), or "" when they agree. What it has: what its control
     * channel listed when it was asked, else what the state records.
     */
    private static String backendChanges(LaunchPlan desired, Map<String, ProcessRecord> recorded, Observation proxySeen) {
        Map<String, String> wanted = new LinkedHashMap<>();
        // Headless ranks are no backends: their node's first process is.
        desired.nodes().stream().filter(launch -> launch.record().servesHttp())
                .forEach(launch -> wanted.put(backendKey(launch.record()), launch.name()));
        Map<String, String> names = new LinkedHashMap<>();
        recorded.values().stream().filter(process -> !process.isProxy() && process.servesHttp())
                .forEach(process -> names.put(backendKey(process), process.name()));
        List<String> has = proxySeen.proxyBackends() != null ? proxySeen.proxyBackends() : List.copyOf(names.keySet());
        List<String> changes = new ArrayList<>();
        wanted.forEach((key, name) -> {
            if (!has.contains(key)) {
                changes.add("+ " + name + " (" + key + ")");
            }
        });
        for (String key : has) {
            if (!wanted.containsKey(key)) {
                changes.add("- " + names.getOrDefault(key, "?") + " (" + key + ")");
            }
        }
        return String.join(", ", changes);
    }

    private static Row row(LaunchPlan.Launch launch, ProcessRecord previous, Map<String, Observation> observed, boolean fresh,
            Instant now) {
        ProcessRecord wanted = launch.record();
        if (previous == null) {
            return new Row(Action.START, wanted.name(), wanted.role(), wanted.host(), fresh ? "new" : "added to the topology", null, launch);
        }
        Observation seen = observed.get(previous.name());
        ProcessState state = seen == null ? null : seen.process();
        String changes = changes(previous, wanted);
        if (state != null && state.kind() == ProcessState.Kind.NOT_STARTED) {
            String why = "an earlier up recorded it but never started it";
            return new Row(Action.START, wanted.name(), wanted.role(), wanted.host(), changes == null ? why : changes + "; " + why,
                    previous, launch);
        }
        String dead = deadReason(previous, seen);
        if (changes != null) {
            return restart(launch, previous, dead == null ? changes : changes + "; " + dead);
        }
        if (dead != null) {
            return restart(launch, previous, dead);
        }
        if (state.isRestarting()) {
            ProcessState.Restarting next = state.supervision().restarting();
            return new Row(Action.WAIT, wanted.name(), wanted.role(), wanted.host(),
                    "unchanged; its supervisor starts it again (attempt " + next.attempt() + ")", previous, launch);
        }
        NodeProbe.Readiness readiness = seen.readiness();
        if (readiness.ready()) {
            return new Row(Action.KEEP, wanted.name(), wanted.role(), wanted.host(), "unchanged, ready", previous, launch);
        }
        ProcessState.LastExit exit = state.supervision().lastExit();
        boolean healed = exit != null;
        // its supervisor started it again since it turned unhealthy: it is loading, not hanging
        boolean restartedSince = healed && seen.unhealthyFor() != null
                && Duration.between(exit.at(), now).compareTo(seen.unhealthyFor()) <= 0;
        if (seen.unhealthyFor() != null && !restartedSince) {
            String unhealthy = "unhealthy for " + seen.unhealthyFor().toSeconds() + " s (" + readiness.detail() + ")";
            return seen.unhealthyFor().compareTo(UNHEALTHY_RESTART) >= 0
                    ? restart(launch, previous, unhealthy)
                    : new Row(Action.WAIT, wanted.name(), wanted.role(), wanted.host(), "unchanged, alive, " + unhealthy
                            + "; restarted once unhealthy for " + UNHEALTHY_RESTART.toSeconds() + " s", previous, launch);
        }
        Instant since = healed ? exit.at() : previous.startedAt();
        String age = since == null ? "" : " for " + Math.max(0, Duration.between(since, now).toSeconds()) + " s"
                + (healed ? " since its supervisor started it again" : "");
        return new Row(Action.WAIT, wanted.name(), wanted.role(), wanted.host(),
                "unchanged, alive, " + (readiness.listening() ? "not ready" : "loading") + age + " (" + readiness.detail() + ")",
                previous, launch);
    }

    /** {@code layerwise -> pull} when a built-in proxy's {@code --kv-flow} changes, else null (also without recorded specs). */
    private static String kvFlowChange(Row proxy) {
        if (proxy.previous() == null || proxy.previous().spec() == null || proxy.launch().record().spec() == null) {
            return null;
        }
        String was = kvFlow(proxy.previous().spec().argv());
        String now = kvFlow(proxy.launch().record().spec().argv());
        return was.equals(now) ? null : was + " -> " + now;
    }

    /** The built-in proxy's {@code --kv-flow}; without it, layerwise. */
    private static String kvFlow(List<String> argv) {
        int at = argv.indexOf(KvFlow.OPTION);
        return at >= 0 && at + 1 < argv.size() ? argv.get(at + 1) : KvFlow.LAYERWISE.flag();
    }

    private static Row restart(LaunchPlan.Launch launch, ProcessRecord previous, String reason) {
        ProcessRecord wanted = launch.record();
        return new Row(Action.RESTART, wanted.name(), wanted.role(), wanted.host(), reason, previous, launch);
    }

    /** What changed since the record, or null when nothing did. */
    private static String changes(ProcessRecord previous, ProcessRecord wanted) {
        if (previous.specHash().equals(wanted.specHash())) {
            return null;
        }
        if (previous.spec() == null) {
            return "changed (its record predates recorded specs; the hash of its script differs)";
        }
        List<String> changes = SpecDiff.between(previous.spec(), wanted.spec());
        return changes.isEmpty() ? "its script changed (a template or a masked value)" : String.join(", ", changes);
    }

    /**
     * Why a recorded process must be started again although unchanged, or null when it may be kept: it is not
     * running, its log shows a fatal error, or (a node) it answers {@code /health} with an error, as vLLM does
     * once its engine died. A proxy answering 503 waits for its backends; a node not answering is loading.
     */
    private static String deadReason(ProcessRecord previous, Observation seen) {
        if (seen == null || seen.process() == null) {
            return "not probed";
        }
        ProcessState state = seen.process();
        if (state.isCrashLoop()) {
            return "crash loop: its supervisor stopped restarting it after " + state.supervision().lastExit().describe();
        }
        if (!state.isRunning() || state.fatalLine() != null) {
            return state.describe();
        }
        NodeProbe.Readiness readiness = seen.readiness();
        if (readiness == null) {
            return "not probed over HTTP";
        }
        if (!previous.isProxy() && !readiness.ready() && readiness.detail().startsWith("/health answers")) {
            return "unhealthy: " + readiness.detail();
        }
        return null;
    }

    /**
     * Before nodes start on a host: the EC directory is emptied on encoder hosts when the deployment starts afresh
     * (a running consumer may still read it otherwise), and created on every other host with nodes. Hosts where
     * nothing starts, or only the proxy, are untouched.
     */
    private static Map<String, EcAction> ec(LaunchPlan desired, List<Row> rows, boolean fresh) {
        Map<String, EcAction> ec = new LinkedHashMap<>();
        Set<String> starting = new LinkedHashSet<>();
        rows.stream().filter(Row::starts).forEach(row -> starting.add(row.launch().record().host()));
        for (String host : starting) {
            List<ProcessRecord> nodes = desired.nodes().stream().map(LaunchPlan.Launch::record)
                    .filter(record -> record.host().equals(host)).toList();
            if (!nodes.isEmpty()) {
                ec.put(host, fresh && nodes.stream().anyMatch(node -> node.role().equals("encoder")) ? EcAction.EMPTIED : EcAction.CREATED);
            }
        }
        return ec;
    }

    /**
     * Roles with a running node before that will have none kept while the change runs: every node of the role is
     * restarted or stopped.
     */
    private static List<String> rolesWithoutBackend(List<Row> rows, Map<String, Observation> observed) {
        Set<String> serving = new LinkedHashSet<>();
        Set<String> kept = new LinkedHashSet<>();
        for (Row row : rows) {
            if (row.role().equals("proxy") || row.previous() == null) {
                continue;
            }
            Observation seen = observed.get(row.name());
            if (seen != null && seen.process() != null && seen.process().isRunning()) {
                serving.add(row.role());
                if (row.action() == Action.KEEP || row.action() == Action.WAIT) {
                    kept.add(row.role());
                }
            }
        }
        serving.removeAll(kept);
        return List.copyOf(serving);
    }
}
