package io.epdctl.lifecycle;

import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
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

    /** One row of the table. Load figures are null when the process does not export them or is not ready. */
    public record Row(
            String name,
            String role,
            String host,
            List<Integer> devices,
            int port,
            long pid,
            String state,
            Long uptimeSeconds,
            Double running,
            Double waiting,
            Double kvCacheUsage,
            String reason) {

        public boolean ready() {
            return state.equals("ready");
        }
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
        return state.processes().stream()
                .map(process -> row(process, answers.first().get(process.name()), answers.second().get(process)))
                .toList();
    }

    /** A node's readiness and its load figures, asked at the same time; the proxy has no load figures. */
    private Parallel.Both<NodeProbe.Readiness, NodeProbe.Load> askOverHttp(ProcessRecord process, String servedModelName) {
        try {
            if (process.isProxy()) {
                return new Parallel.Both<>(probe.readiness(process, servedModelName, HTTP_TIMEOUT), new NodeProbe.Load(null, null, null));
            }
            return Parallel.both(() -> probe.readiness(process, servedModelName, HTTP_TIMEOUT),
                    () -> probe.load(process.address(), process.port(), HTTP_TIMEOUT));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Parallel.Both<>(new NodeProbe.Readiness(false, false, "interrupted"), new NodeProbe.Load(null, null, null));
        }
    }

    private static Row row(ProcessRecord process, ProcessState processState,
            Parallel.Both<NodeProbe.Readiness, NodeProbe.Load> http) {
        Long uptime = process.startedAt() == null ? null : Duration.between(process.startedAt(), Instant.now()).toSeconds();
        if (processState == null || !processState.isRunning()) {
            String state = processState != null && processState.kind() == ProcessState.Kind.UNREACHABLE ? "unreachable host" : "exited";
            String reason = processState == null ? "not found" : processState.describe();
            return new Row(process.name(), process.role(), process.host(), process.devices(), process.port(),
                    process.processGroup(), state, null, null, null, null, reason);
        }
        NodeProbe.Readiness readiness = http.first();
        String state = readiness.ready() ? "ready" : readiness.listening() ? "unhealthy" : "running";
        String reason = readiness.ready() ? processState.fatalLine() : readiness.detail();
        NodeProbe.Load load = readiness.ready() ? http.second() : new NodeProbe.Load(null, null, null);
        return new Row(process.name(), process.role(), process.host(), process.devices(), process.port(),
                process.processGroup(), state, uptime, load.running(), load.waiting(), load.kvCacheUsage(), reason);
    }
}
