package io.epdctl.lifecycle;

import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
import io.epdctl.transport.TransportException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Gathers what {@link UpPlan#decide} needs from the hosts and the nodes: the pids of records whose start was
 * interrupted (from their pid files), every recorded process's state (one command per host, all at once, the
 * logs scanned for fatal lines), the readiness of those that run (HTTP, at once), and what a running built-in proxy
 * has: its backends, and since when each that was healthy is not. Changes nothing.
 */
public final class Planner {
    private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(2);

    private final ProcessControl control;
    private final NodeProbe probe;

    public Planner(ProcessControl control, NodeProbe probe) {
        this.control = control;
        this.probe = probe;
    }

    /**
     * The plan, the previous state with the pids recovered (null when nothing was recorded), and what the probes saw
     * of each recorded process.
     */
    public record Planned(UpPlan plan, DeploymentState previous, Map<String, UpPlan.Observation> observed) {
    }

    public Planned plan(LaunchPlan desired, DeploymentState recorded, String ecDirectory) throws InterruptedException {
        return plan(desired, recorded, ecDirectory, UpPlan.DEFAULT_MAX_UNAVAILABLE);
    }

    public Planned plan(LaunchPlan desired, DeploymentState recorded, String ecDirectory, int maxUnavailable)
            throws InterruptedException {
        DeploymentState previous = recorded == null ? null : recovered(recorded);
        Map<String, UpPlan.Observation> observed = new HashMap<>();
        if (previous != null) {
            Map<String, ProcessState> states = control.probe(previous.processes(), true);
            List<ProcessRecord> running = previous.processes().stream()
                    .filter(process -> states.get(process.name()) != null && states.get(process.name()).isRunning())
                    .toList();
            Map<ProcessRecord, NodeProbe.Readiness> readiness = Parallel.map(running,
                    process -> probe.readiness(process, previous.servedModelName(), HTTP_TIMEOUT));
            ProcessRecord proxy = previous.processes().stream().filter(ProcessRecord::isProxy).findFirst().orElse(null);
            List<ProxyControl.Backend> backends = desired.liveProxy() && proxy != null && readiness.containsKey(proxy)
                    ? proxyBackends(proxy) : null;
            Map<String, java.time.Duration> unhealthy = new HashMap<>();
            if (backends != null) {
                backends.stream().filter(backend -> backend.unhealthyFor() != null)
                        .forEach(backend -> unhealthy.put(backend.key(), backend.unhealthyFor()));
            }
            for (ProcessRecord process : previous.processes()) {
                List<String> keys = process == proxy && backends != null ? backends.stream().map(ProxyControl.Backend::key).toList() : null;
                observed.put(process.name(), new UpPlan.Observation(states.get(process.name()), readiness.get(process), keys,
                        process.isProxy() ? null : unhealthy.get(UpPlan.backendKey(process))));
            }
        }
        return new Planned(UpPlan.decide(desired, previous, observed, ecDirectory, Instant.now(), maxUnavailable), previous,
                Map.copyOf(observed));
    }

    /**
     * The backends a running built-in proxy has, as its control channel lists them; null when it cannot be asked (the
     * plan then goes by the state): an interrupted rolling up may have left a ready node out of it.
     */
    private List<ProxyControl.Backend> proxyBackends(ProcessRecord proxy) {
        try (ProxyControl channel = ProxyControl.open(control.hosts().require(proxy.host()), proxy.directory())) {
            return channel.list();
        } catch (DeploymentException | TransportException e) {
            return null;
        }
    }

    /** Records whose start was interrupted (pid 0) with the pid their pid file names, where there is one. */
    private DeploymentState recovered(DeploymentState state) throws InterruptedException {
        List<ProcessRecord> unstarted = state.processes().stream().filter(process -> !process.isStarted()).toList();
        Map<ProcessRecord, ProcessRecord> found = Parallel.map(unstarted, process -> {
            try {
                return control.recover(process);
            } catch (TransportException e) {
                return process;
            }
        });
        DeploymentState result = state;
        for (ProcessRecord process : state.processes()) {
            ProcessRecord now = found.get(process);
            if (now != null && now.isStarted()) {
                result = result.with(now);
            }
        }
        // with() appends: keep the recorded order.
        DeploymentState updated = result;
        List<ProcessRecord> ordered = state.processes().stream()
                .map(process -> updated.process(process.name()).orElse(process)).toList();
        return new DeploymentState(state.deployment(), state.topologyFile(), state.servedModelName(), state.ecDirectory(),
                state.hosts(), ordered, state.updatedAt());
    }
}
