package io.epdctl.lifecycle;

import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
import io.epdctl.transport.TransportException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Stops processes of a deployment: the proxy first (so no request reaches a node being stopped), then the
 * nodes, all at once. A process is forgotten only once its whole group is gone and no process of its group
 * holds its ports (another process may listen there by now: that is not ours);
 * anything else stays in the state for a later {@code down}, and is reported.
 */
public final class Teardown {
    private final ProcessControl control;
    private final Progress progress;
    private final Duration grace;

    public Teardown(ProcessControl control, Progress progress, Duration grace) {
        this.control = control;
        this.progress = progress;
        this.grace = grace;
    }

    /** The state without what was stopped, and what could not be stopped (name to reason). */
    public record Result(DeploymentState state, Map<String, String> leftBehind) {
        public boolean clean() {
            return leftBehind.isEmpty();
        }
    }

    public Result stop(DeploymentState state, List<ProcessRecord> processes) throws InterruptedException {
        List<ProcessRecord> proxies = processes.stream().filter(ProcessRecord::isProxy).toList();
        List<ProcessRecord> nodes = processes.stream().filter(process -> !process.isProxy()).toList();
        Map<String, String> leftBehind = new LinkedHashMap<>();
        DeploymentState remaining = state;
        for (List<ProcessRecord> wave : List.of(proxies, nodes)) {
            Map<ProcessRecord, String> outcomes = Parallel.map(wave, this::stopOne);
            for (Map.Entry<ProcessRecord, String> outcome : outcomes.entrySet()) {
                if (outcome.getValue() == null) {
                    remaining = remaining.without(outcome.getKey().name());
                } else {
                    leftBehind.put(outcome.getKey().name(), outcome.getValue());
                }
            }
        }
        return new Result(remaining, leftBehind);
    }

    /** Null when the process is gone and its ports are closed; else what is left. */
    private String stopOne(ProcessRecord declared) {
        String name = declared.name();
        progress.step(name, Progress.Step.STOPPING, "stopping");
        try {
            ProcessRecord process = control.recover(declared);
            if (!process.isStarted()) {
                progress.step(name, Progress.Step.STOPPED, "had not been started");
                return null;
            }
            ProcessControl.StopOutcome outcome = control.stop(process, grace);
            if (!outcome.clean()) {
                String left = "processes " + outcome.leftPids() + " of its group (pgid " + process.processGroup()
                        + ") on " + process.host() + " survived SIGKILL";
                progress.step(name, Progress.Step.FAILED, left);
                return left;
            }
            Set<Integer> open = new TreeSet<>(process.ports());
            open.retainAll(control.listeningPorts(process.host()));
            // A listener is ours only when one of our processes holds it: another process may have taken a port
            // of a process that died long ago.
            Map<Integer, Set<Long>> holders = open.isEmpty() ? Map.of() : control.listenerGroups(process.host(), open);
            Set<Integer> ours = new TreeSet<>();
            holders.forEach((port, groups) -> {
                if (groups.contains(process.processGroup())) {
                    ours.add(port);
                }
            });
            if (!ours.isEmpty()) {
                String left = "port " + ours + " on " + process.host() + " is still listening after its processes ended";
                progress.step(name, Progress.Step.FAILED, outcome.how() + ", but " + left);
                return left;
            }
            open.removeAll(ours);
            progress.step(name, Progress.Step.STOPPED, outcome.how() + (open.isEmpty() ? ""
                    : "; port " + open + " on " + process.host() + " is held by another process, not one of ours"));
            return null;
        } catch (TransportException e) {
            progress.step(name, Progress.Step.FAILED,
                    "not stopped: " + e.getMessage() + " (kept in the state; run down again when the host is back)");
            return "host unreachable: " + e.getMessage();
        }
    }
}
