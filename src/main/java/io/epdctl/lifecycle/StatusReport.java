package io.epdctl.lifecycle;

import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
import io.epdctl.transport.HostConnections;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * {@code epdctl status}: every process of a deployment probed at once (its host for the process, HTTP for
 * readiness and load), with short timeouts so that a dead host costs seconds, not minutes.
 */
public final class StatusReport {
    private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(2);

    /**
     * One row of the table. Load figures are null when the process does not export them or is not ready.
     * {@code container} is what docker inspect says of a docker node's container ({@code ID STATUS}, or
     * {@code none}); null for a host process.
     */
    public record Row(
            String name,
            String role,
            String host,
            String address,
            List<Integer> devices,
            int port,
            long pid,
            String state,
            Long uptimeSeconds,
            Double running,
            Double waiting,
            Double kvCacheUsage,
            String reason,
            String startedAt,
            String log,
            Integer restarts,
            LastExit lastExit,
            String container) {

        public boolean ready() {
            return state.equals("ready");
        }
    }

    /**
     * The last exit of a process's script that its supervisor recorded: when (ISO-8601), its status, the signal that ended it
     * (or null), what it means ("killed by signal 9 (KILL)"), and what the supervisor did then (restart, crash-loop, stopped, ...).
     */
    public record LastExit(String at, int status, String signal, String reason, String outcome) {
        static LastExit of(ProcessState.LastExit exit) {
            return exit == null ? null
                    : new LastExit(exit.at().toString(), exit.status(), exit.signal(), exit.describe(), exit.outcome());
        }
    }

    /**
     * One line of {@code epdctl ls}: a deployment's nodes ready of all (the proxy apart), its proxy's endpoint
     * and state, and its age (since its earliest process started; the state's last change when none did).
     */
    public record Overview(String deployment, int nodesReady, int nodes, String proxy, String proxyState,
            long ageSeconds, String topologyFile, List<String> hosts) {

        /** ready: every node and the proxy; down: none of them; degraded: some. */
        public String state() {
            boolean proxyReady = "ready".equals(proxyState);
            if (nodesReady == nodes && proxyReady) {
                return "ready";
            }
            return nodesReady == 0 && !proxyReady ? "down" : "degraded";
        }
    }

    /** Opens the hosts of a deployment for its probe. */
    public interface Connector {
        HostConnections open(DeploymentState state) throws InterruptedException;
    }

    /**
     * Every deployment probed at once, each as {@code status} probes it (bounded by the same timeouts), so
     * that ls costs the slowest deployment, not their sum.
     */
    public static List<Overview> overviews(List<DeploymentState> states, Connector connector, NodeProbe probe)
            throws InterruptedException {
        Map<DeploymentState, Overview> overviews = Parallel.map(states, state -> {
            try (HostConnections connections = connector.open(state)) {
                return overview(state, new StatusReport(new ProcessControl(connections), probe).rows(state), Instant.now());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return overview(state, List.of(), Instant.now());
            }
        });
        return states.stream().map(overviews::get).toList();
    }

    /** The overview of one deployment from its status rows. */
    static Overview overview(DeploymentState state, List<Row> rows, Instant now) {
        List<Row> nodes = rows.stream().filter(row -> !"proxy".equals(row.role())).toList();
        Row proxy = rows.stream().filter(row -> "proxy".equals(row.role())).findFirst().orElse(null);
        ProcessRecord proxyRecord = state.processes().stream().filter(ProcessRecord::isProxy).findFirst().orElse(null);
        Instant since = state.processes().stream().map(ProcessRecord::startedAt).filter(java.util.Objects::nonNull)
                .min(Instant::compareTo).orElse(state.updatedAt());
        int total = (int) state.processes().stream().filter(process -> !process.isProxy()).count();
        return new Overview(state.deployment(), (int) nodes.stream().filter(Row::ready).count(), total,
                proxyRecord == null ? "-" : NodeProbe.uri(proxyRecord.address(), proxyRecord.port(), "").toString(),
                proxy == null ? (proxyRecord == null ? "none" : "unknown") : proxy.state(),
                since == null ? 0 : Math.max(0, Duration.between(since, now).toSeconds()),
                state.topologyFile(), List.copyOf(state.hosts().keySet()));
    }

    private final ProcessControl control;
    private final NodeProbe probe;

    public StatusReport(ProcessControl control, NodeProbe probe) {
        this.control = control;
        this.probe = probe;
    }

    public List<Row> rows(DeploymentState state) throws InterruptedException {
        // The hosts (processes) and the nodes (HTTP) are asked at the same time: status costs the slower of the two.
        Parallel.Both<Map<String, ProcessState>, Map<ProcessRecord, Parallel.Both<NodeProbe.Readiness, NodeProbe.Load>>> answers =
                Parallel.both(() -> control.probe(state.processes(), true),
                        () -> Parallel.map(state.processes(), process -> askOverHttp(process, state.servedModelName())));
        // Containers are asked after the processes: reading one a moment later cannot make a running node look dead.
        Map<String, HostCommands.ContainerState> containers = control.containers(state.processes());
        // In the state's order (file order, as up wrote it), the proxy last.
        return java.util.stream.Stream.concat(state.processes().stream().filter(process -> !process.isProxy()),
                        state.processes().stream().filter(ProcessRecord::isProxy))
                .map(process -> row(process, answers.first().get(process.name()), answers.second().get(process),
                        process.container() == null ? null
                                : containers.containsKey(process.name()) ? containers.get(process.name()).describe() : "none"))
                .toList();
    }

    /** A node's readiness and its load figures, asked at the same time; the proxy has no load figures. */
    private Parallel.Both<NodeProbe.Readiness, NodeProbe.Load> askOverHttp(ProcessRecord process, String servedModelName) {
        try {
            if (process.isProxy() || !process.servesHttp()) {
                return new Parallel.Both<>(probe.readiness(process, servedModelName, HTTP_TIMEOUT), new NodeProbe.Load(null, null, null));
            }
            return Parallel.both(() -> probe.readiness(process, servedModelName, HTTP_TIMEOUT),
                    () -> probe.load(process.address(), process.port(), HTTP_TIMEOUT));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Parallel.Both<>(new NodeProbe.Readiness(false, false, "interrupted"), new NodeProbe.Load(null, null, null));
        }
    }

    /** When the process started, ISO-8601 to the second (as JSON and the wide table show it), or null. */
    private static String started(ProcessRecord process) {
        return process.startedAt() == null ? null : process.startedAt().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
    }

    private static Row row(ProcessRecord process, ProcessState processState,
            Parallel.Both<NodeProbe.Readiness, NodeProbe.Load> http, String container) {
        boolean known = processState != null && processState.kind() != ProcessState.Kind.UNREACHABLE;
        // a node its supervisor started again has been up since its last exit, not since up started it
        Instant since = known && processState.supervision().lastExit() != null ? processState.supervision().lastExit().at()
                : process.startedAt();
        Long uptime = since == null ? null : Math.max(0, Duration.between(since, Instant.now()).toSeconds());
        Integer restarts = known ? processState.supervision().restarts() : null;
        LastExit lastExit = known ? LastExit.of(processState.supervision().lastExit()) : null;
        if (processState == null || !processState.isRunning()) {
            String state = !known ? (processState == null ? "exited" : "unreachable host")
                    : processState.isCrashLoop() ? "crash loop" : "exited";
            String reason = (processState == null ? "not found"
                    : processState.isCrashLoop() ? crashLoop(processState.supervision()) : processState.describe())
                    + (container == null ? "" : "; container " + container);
            return new Row(process.name(), process.role(), process.host(), process.address(), process.devices(), process.port(),
                    process.processGroup(), state, null, null, null, null, reason, started(process), process.log(), restarts, lastExit,
                    container);
        }
        if (processState.isRestarting()) {
            ProcessState.Restarting next = processState.supervision().restarting();
            long in = Math.max(0, Duration.between(Instant.now(), next.at()).toSeconds());
            ProcessState.LastExit last = processState.supervision().lastExit();
            String reason = "attempt " + next.attempt() + " starts in " + in + " s" + (last == null ? "" : "; " + last.describe());
            return new Row(process.name(), process.role(), process.host(), process.address(), process.devices(), process.port(),
                    process.processGroup(), "restarting", uptime, null, null, null, reason, started(process), process.log(),
                    restarts, lastExit, container);
        }
        NodeProbe.Readiness readiness = http.first();
        String state = readiness.ready() ? "ready" : readiness.listening() ? "unhealthy" : "running";
        String reason = readiness.ready() ? processState.fatalLine() : readiness.detail();
        NodeProbe.Load load = readiness.ready() ? http.second() : new NodeProbe.Load(null, null, null);
        return new Row(process.name(), process.role(), process.host(), process.address(), process.devices(), process.port(),
                process.processGroup(), state, uptime, load.running(), load.waiting(), load.kvCacheUsage(), reason,
                started(process), process.log(), restarts, lastExit, container);
    }

    private static String crashLoop(ProcessState.Supervision supervision) {
        ProcessState.LastExit last = supervision.lastExit();
        return Supervisor.CRASH_LOOP_EXITS + " exits within " + Supervisor.CRASH_LOOP_WINDOW.toMinutes()
                + " min, a crash loop: not restarted again (after " + supervision.restarts() + " restarts; last "
                + last.describe() + " at " + last.at() + ")";
    }
}
