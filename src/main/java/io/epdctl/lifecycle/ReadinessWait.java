package io.epdctl.lifecycle;

import io.epdctl.state.ProcessRecord;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Waits until started processes are ready, and gives up at once when one of them exits or logs a fatal
 * error: a crash is reported in the time of one host probe, not at the timeout. Every poll asks each
 * not-yet-ready process over HTTP; the hosts are asked for their processes' states (one command per host,
 * at the same time) as often as {@link #HOST_PROBE_SPACING} allows.
 */
final class ReadinessWait {
    private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(2);
    private static final Duration SUMMARY_EVERY = Duration.ofSeconds(15);
    private static final int LOG_LINES = 20;
    /**
     * Asking the hosts for their processes costs far more than asking the nodes over HTTP (an SSH command
     * and a login shell on each host, which is busy loading models): after a host probe that took T, the
     * next waits at least this many times T, so that polling never takes more than a fifth of the hosts'
     * time. Locally that is every poll; on loaded SSH hosts about once a second.
     */
    private static final int HOST_PROBE_SPACING = 4;

    private final ProcessControl control;
    private final NodeProbe probe;
    private final String servedModelName;
    private final Progress progress;
    private final Duration pollInterval;

    ReadinessWait(ProcessControl control, NodeProbe probe, String servedModelName, Progress progress, Duration pollInterval) {
        this.control = control;
        this.probe = probe;
        this.servedModelName = servedModelName;
        this.progress = progress;
        this.pollInterval = pollInterval;
    }

    void await(List<ProcessRecord> processes, Duration timeout) throws DeploymentException, InterruptedException {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        long nextSummary = start + SUMMARY_EVERY.toNanos();
        Map<String, String> waitingFor = new LinkedHashMap<>();
        processes.forEach(process -> waitingFor.put(process.name(), "not listening yet"));
        Map<String, ProcessRecord> byName = new HashMap<>();
        processes.forEach(process -> byName.put(process.name(), process));

        long nextHostProbe = start;
        while (true) {
            List<ProcessRecord> pending = waitingFor.keySet().stream().map(byName::get).toList();
            Map<ProcessRecord, NodeProbe.Readiness> readiness;
            if (System.nanoTime() >= nextHostProbe) {
                Parallel.Both<HostProbe, Map<ProcessRecord, NodeProbe.Readiness>> answers =
                        Parallel.both(() -> probeHosts(processes), () -> askOverHttp(pending));
                for (ProcessRecord process : processes) {
                    ProcessState state = answers.first().states().get(process.name());
                    if (state == null || !state.isRunning() || state.fatalLine() != null) {
                        progress.step(process.name(), Progress.Step.FAILED, state == null ? "no longer running" : state.describe());
                        throw failure(process, state == null ? "no longer running" : state.describe());
                    }
                }
                nextHostProbe = System.nanoTime() + Math.max(pollInterval.toNanos(), HOST_PROBE_SPACING * answers.first().nanos());
                readiness = answers.second();
            } else {
                readiness = askOverHttp(pending);
            }
            // The proxy's /health speaks of the nodes as it last probed them: asked while a restarted node was
            // still loading, it may answer 200 for the node as it was before, then find it refused and mark it
            // down just before the test request. So its answer counts only once it was asked after every node.
            boolean nodesReady = pending.stream().allMatch(ProcessRecord::isProxy);
            for (Map.Entry<ProcessRecord, NodeProbe.Readiness> answer : readiness.entrySet()) {
                String name = answer.getKey().name();
                NodeProbe.Readiness said = answer.getValue();
                if (said.ready() && (nodesReady || !answer.getKey().isProxy())) {
                    waitingFor.remove(name);
                    progress.step(name, Progress.Step.READY, "ready after " + seconds(System.nanoTime() - start));
                } else {
                    waitingFor.put(name, said.ready() ? "waiting for the nodes" : said.detail());
                }
            }
            if (waitingFor.isEmpty()) {
                arm(processes);
                return;
            }
            long now = System.nanoTime();
            if (now >= deadline) {
                throw new DeploymentException("not ready within " + timeout.toSeconds() + " s (raise it with --timeout): "
                        + describe(waitingFor));
            }
            if (now >= nextSummary) {
                progress.note("waiting " + seconds(now - start) + " for " + describe(waitingFor));
                nextSummary = now + SUMMARY_EVERY.toNanos();
            }
            Thread.sleep(Math.min(pollInterval.toMillis(), Math.max(1, (deadline - now) / 1_000_000)));
        }
    }

    /**
     * Self-healing starts here, and only here: a process is restarted after a crash once it has been ready, never
     * while it first loads (a configuration error does not heal by restarting; up fails with its log instead).
     * A host that cannot be told is a warning: its processes run, but are not restarted should they crash.
     */
    private void arm(List<ProcessRecord> processes) throws InterruptedException {
        control.arm(processes).forEach((host, why) -> progress.note("warning: " + host
                + ": cannot arm the restart policy, a crash there will not be restarted: " + why));
    }

    private record HostProbe(Map<String, ProcessState> states, long nanos) {
    }

    private HostProbe probeHosts(List<ProcessRecord> processes) throws InterruptedException {
        long start = System.nanoTime();
        Map<String, ProcessState> states = control.probe(processes, true);
        return new HostProbe(states, System.nanoTime() - start);
    }

    private Map<ProcessRecord, NodeProbe.Readiness> askOverHttp(List<ProcessRecord> pending) throws InterruptedException {
        return Parallel.map(pending, process -> probe.readiness(process, servedModelName, HTTP_TIMEOUT));
    }

    private DeploymentException failure(ProcessRecord process, String what) {
        List<String> lines = new ArrayList<>();
        lines.add(process.name() + " (" + process.role() + " on " + process.host() + ") " + what + ".");
        lines.add("Last lines of " + process.host() + ":" + process.log() + ":");
        control.tail(process, LOG_LINES).lines().forEach(line -> lines.add("  | " + line));
        return new DeploymentException(String.join("\n", lines));
    }

    private static String describe(Map<String, String> waitingFor) {
        return waitingFor.entrySet().stream().map(entry -> entry.getKey() + " (" + entry.getValue() + ")")
                .collect(Collectors.joining(", "));
    }

    private static String seconds(long nanos) {
        return String.format("%.1f s", nanos / 1e9);
    }
}
