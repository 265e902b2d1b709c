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
 * holds its ports (another process may listen there by now: that is not ours, or another of the deployment's, as the
 * proxy that took over in a hand-over: the message names it);
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
            Map<ProcessRecord, String> outcomes = Parallel.map(wave, process -> stopOne(process, state, processes));
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

    /**
     * Who holds a port {@code process} had, of the process groups {@code groups}: another recorded process of the
     * deployment on the same host (the proxy that took over in a hand-over; or one stopped with it, as {@code down} stops
     * the two proxies of an interrupted hand-over at once), else a process that is not ours.
     */
    static String holder(ProcessRecord process, Set<Long> groups, DeploymentState state, List<ProcessRecord> stopping) {
        for (ProcessRecord other : state.processes()) {
            if (!other.name().equals(process.name()) && other.host().equals(process.host()) && other.isStarted()
                    && groups.contains(other.processGroup())) {
                boolean stoppedToo = stopping.stream().anyMatch(p -> p.name().equals(other.name()));
                return other.name() + (stoppedToo ? ", which is being stopped too" : ", which took it over");
            }
        }
        return "another process, not one of ours";
    }

    /**
     * After {@code down}: removes, on each host where the deployment ran containers, every container its labels
     * name (one a killed script or an interrupted {@code up} left, even of a node no longer recorded), and checks that
     * none is left. Returns what is left or could not be asked, per host.
     */
    public Map<String, String> removeLeftContainers(DeploymentState state) throws InterruptedException {
        Map<String, Set<String>> commands = new LinkedHashMap<>();
        state.processes().stream().filter(process -> process.container() != null)
                .forEach(process -> commands.computeIfAbsent(process.host(), host -> new TreeSet<>()).add(process.container().command()));
        Map<String, String> outcomes = Parallel.map(List.copyOf(commands.keySet()), host -> {
            List<String> problems = new java.util.ArrayList<>();
            for (String command : commands.get(host)) {
                try {
                    List<String> left = control.removeContainers(host, command, state.deployment(), null);
                    if (!left.isEmpty()) {
                        problems.add("containers " + left + " of " + state.deployment() + " could not be removed");
                    }
                } catch (TransportException e) {
                    problems.add(e.getMessage());
                }
            }
            return String.join("; ", problems);
        });
        Map<String, String> left = new LinkedHashMap<>();
        outcomes.forEach((host, problem) -> {
            if (!problem.isEmpty()) {
                left.put(host, problem);
            }
        });
        return left;
    }

    /** Removes the containers of a node of runtime: docker (by its labels); null when none is left (or it has none), else what is. */
    private String removeContainer(ProcessRecord process) throws TransportException {
        if (process.container() == null) {
            return null;
        }
        List<String> left = control.removeContainers(process.host(), process.container().command(),
                process.container().deployment(), process.name());
        return left.isEmpty() ? null : "container " + left + " on " + process.host() + " could not be removed";
    }

    /**
     * Null when the process is gone and its ports are closed; else what is left. {@code state} and {@code stopping} name
     * the holder of a port another process of the deployment holds (the proxy that took over in a hand-over).
     */
    private String stopOne(ProcessRecord declared, DeploymentState state, List<ProcessRecord> stopping) {
        String name = declared.name();
        progress.step(name, Progress.Step.STOPPING, "stopping");
        try {
            ProcessRecord process = control.recover(declared);
            if (!process.isStarted()) {
                // Its script may have started the container before the start was interrupted.
                String container = removeContainer(process);
                if (container != null) {
                    progress.step(name, Progress.Step.FAILED, container);
                    return container;
                }
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
            // The script stops and removes its container; one that outlived it (a killed script) goes now, before
            // the ports are checked: it still holds them.
            String container = removeContainer(process);
            if (container != null) {
                progress.step(name, Progress.Step.FAILED, outcome.how() + ", but " + container);
                return container;
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
            Map<String, Set<Integer>> byHolder = new LinkedHashMap<>();
            for (int port : open) {
                byHolder.computeIfAbsent(holder(process, holders.getOrDefault(port, Set.of()), state, stopping),
                        holder -> new TreeSet<>()).add(port);
            }
            StringBuilder held = new StringBuilder();
            byHolder.forEach((holder, ports) -> held.append("; port ").append(ports).append(" on ").append(process.host())
                    .append(" is held by ").append(holder));
            progress.step(name, Progress.Step.STOPPED, outcome.how() + held);
            return null;
        } catch (TransportException e) {
            progress.step(name, Progress.Step.FAILED,
                    "not stopped: " + e.getMessage() + " (kept in the state; run down again when the host is back)");
            return "host unreachable: " + e.getMessage();
        }
    }
}
