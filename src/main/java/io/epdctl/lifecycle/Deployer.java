package io.epdctl.lifecycle;

import io.epdctl.state.DeploymentState;
import io.epdctl.state.HostRecord;
import io.epdctl.state.ProcessRecord;
import io.epdctl.state.StateStore;
import io.epdctl.topology.Topology;
import io.epdctl.transport.TransportException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code epdctl up}: carries out the {@link UpPlan} that brings a deployment to what its topology says:
 * unchanged, ready processes are left alone, unchanged ones still loading are waited for; changed or dead
 * ones are stopped and started again once their hosts are known to be able to start them; new ones are
 * started. The caller holds the
 * deployment's lock. Every process is in the state file before it is started, so that an interrupted
 * {@code up} can always be cleaned by {@code down}.
 */
public final class Deployer {

    /**
     * {@code maxUnavailable} serving nodes of a role are replaced at once behind a running built-in proxy, each
     * drained for at most {@code drainTimeout} first (see {@link Rollout}).
     */
    public record Options(Duration readyTimeout, Duration grace, Duration pollInterval, boolean keepOnFailure,
            int maxUnavailable, Duration drainTimeout) {
    }

    private final Topology topology;
    private final Path topologyFile;
    private final LaunchPlan plan;
    private final StateStore store;
    private final ProcessControl control;
    private final NodeProbe probe;
    private final Progress progress;
    private final Options options;

    public Deployer(Topology topology, Path topologyFile, LaunchPlan plan, StateStore store, ProcessControl control,
            NodeProbe probe, Progress progress, Options options) {
        this.topology = topology;
        this.topologyFile = topologyFile;
        this.plan = plan;
        this.store = store;
        this.control = control;
        this.probe = probe;
        this.progress = progress;
        this.options = options;
    }

    /**
     * Returns the proxy's endpoint once everything is ready (at once when it already was). First the plan
     * ({@link UpPlan}), printed; then, before anything is stopped, the check that what starts can start
     * ({@link StartCheck}); then the stops, the starts and the wait.
     */
    public String up() throws DeploymentException, InterruptedException, IOException {
        long start = System.nanoTime();
        DeploymentState stored = store.read(topology.name()).orElse(null);
        Planner.Planned planned = new Planner(control, probe).plan(plan, stored, topology.ecTransfer().sharedStoragePath(),
                options.maxUnavailable());
        UpPlan upPlan = planned.plan();
        DeploymentState previous = planned.previous();
        if (previous != null && !previous.equals(stored)) {
            // the pids an interrupted up did not record, read from their pid files: kept whatever this up does
            store.write(previous);
        }
        if (upPlan.rows().stream().allMatch(row -> row.action() == UpPlan.Action.KEEP)) {
            say("deployment " + topology.name() + " is up and unchanged; nothing to do");
            return endpoint();
        }
        upPlan.lines().forEach(this::say);
        List<LaunchPlan.Launch> toStart = upPlan.toStart();
        List<ProcessRecord> toStop = upPlan.toStop();
        checkStartable(upPlan, toStart, toStop);

        DeploymentState state = previous != null ? withHosts(previous) : emptyState();
        if (upPlan.rollout() != null) {
            return roll(upPlan, state, start, true);
        }
        if (!toStop.isEmpty()) {
            say("stopping " + names(toStop));
            Teardown.Result stopped = new Teardown(control, progress, options.grace()).stop(state, toStop);
            state = stopped.state();
            store.write(state);
            if (!stopped.clean()) {
                throw new DeploymentException("cannot replace " + String.join(", ", stopped.leftBehind().keySet())
                        + ": the old processes could not be stopped");
            }
        }

        List<ProcessRecord> startedHere = new ArrayList<>();
        try {
            // The proxy starts with the nodes: its own start-up then costs nothing, and it waits for its backends.
            state = launch(state, toStart, upPlan.ec(), startedHere);
            awaitKeptAndTest(upPlan, state, startedHere);
        } catch (DeploymentException | TransportException e) {
            // The store has every record written so far, also those of a launch that failed halfway.
            throw cleanUp(store.read(topology.name()).orElse(state), startedHere, e.getMessage());
        }
        say("deployment " + topology.name() + " is ready after " + String.format("%.1f s", (System.nanoTime() - start) / 1e9));
        return endpoint();
    }

    /**
     * {@code epdctl restart}: the nodes {@code names} of the recorded deployment, drained and restarted behind the
     * built-in proxy, at most {@code --max-unavailable} serving nodes of a role at a time (see
     * {@link UpPlan#forRestart}); then the test request.
     */
    public void restart(List<String> names) throws DeploymentException, InterruptedException, IOException {
        long start = System.nanoTime();
        Planner.Planned planned = new Planner(control, probe).plan(plan, store.read(topology.name()).orElse(null),
                topology.ecTransfer().sharedStoragePath(), options.maxUnavailable());
        if (planned.previous() == null) {
            throw new DeploymentException("deployment " + topology.name() + " is not recorded; nothing to restart");
        }
        UpPlan restart = UpPlan.forRestart(planned.plan(), planned.observed(), names, topologyFile.toString(), options.maxUnavailable());
        restart.rows().stream().filter(row -> row.action() == UpPlan.Action.RESTART).forEach(row -> say(row.line()));
        restart.summary().stream().filter(line -> !line.startsWith("EC directory")).forEach(this::say);
        roll(restart, withHosts(planned.previous()), start, false);
    }

    /**
     * Behind a running built-in proxy: the plan's waves one after the other (see {@link Rollout}); {@code reconcile}:
     * then the proxy's backends made the file's. A wave that fails stops what it started; what earlier waves started
     * is ready and in the proxy, and stays.
     */
    private String roll(UpPlan upPlan, DeploymentState state, long start, boolean reconcile)
            throws DeploymentException, InterruptedException, IOException {
        List<ProcessRecord> startedHere = new ArrayList<>();
        try {
            state = new Rollout(control, probe, store, progress, topology.servedModelName(),
                    new Rollout.Options(options.grace(), options.drainTimeout(), options.readyTimeout(), options.pollInterval()),
                    this::launch).carryOut(upPlan, state, plan.proxy(), startedHere, reconcile);
            // A proxy handed over is a new process: it must have seen the nodes as they are now before the test request.
            awaitKeptAndTest(upPlan, state, upPlan.proxy() == UpPlan.ProxyChange.HANDED_OVER
                    ? List.of(state.process(plan.proxy().name()).orElseThrow()) : List.of());
        } catch (DeploymentException | TransportException e) {
            throw cleanUp(store.read(topology.name()).orElse(state), startedHere, e.getMessage());
        }
        say("deployment " + topology.name() + " is ready after " + String.format("%.1f s", (System.nanoTime() - start) / 1e9));
        return endpoint();
    }

    /**
     * Waits for what was started (and is not yet known ready), for the kept ones still loading and for a kept proxy:
     * it must have seen the restarted nodes healthy before it routes to them (ReadinessWait asks it only after them);
     * then the test request.
     */
    private void awaitKeptAndTest(UpPlan upPlan, DeploymentState state, List<ProcessRecord> startedHere)
            throws DeploymentException, InterruptedException {
        List<ProcessRecord> awaited = new ArrayList<>(startedHere);
        for (UpPlan.Row row : upPlan.rows()) {
            boolean kept = row.action() == UpPlan.Action.WAIT || (row.role().equals("proxy")
                    && (row.action() == UpPlan.Action.KEEP || row.action() == UpPlan.Action.RECONFIGURE));
            if (kept) {
                awaited.add(state.process(row.name()).orElseThrow());
            }
        }
        new ReadinessWait(control, probe, topology.servedModelName(), progress, options.pollInterval())
                .await(awaited, options.readyTimeout());
        sendSmokeRequest();
    }

    /**
     * Before anything is stopped: every host where something starts must be able to start it (see
     * {@link StartCheck}); else nothing is touched. Ports an outgoing connection can take first (inside the
     * ephemeral range, not reserved) are warned about, with the line that reserves them.
     */
    private void checkStartable(UpPlan upPlan, List<LaunchPlan.Launch> toStart, List<ProcessRecord> toStop)
            throws DeploymentException, InterruptedException {
        if (toStart.isEmpty()) {
            return;
        }
        StartCheck.Result checked = new StartCheck(control).run(toStart, toStop, topology.model(),
                topology.ecTransfer().sharedStoragePath(), upPlan.ec().keySet());
        if (!checked.problems().isEmpty()) {
            throw new DeploymentException(String.join("\n", checked.problems()) + "\nnothing was started"
                    + (toStop.isEmpty() ? "" : " or stopped: the running deployment is as it was"));
        }
        checked.warnings().forEach(warning -> say("warning: " + warning));
    }

    /** What a host does before its nodes start, as the plan says (null: nothing). */
    private HostCommands.Preparation ecPreparation(String host, Map<String, UpPlan.EcAction> ec) {
        String path = topology.ecTransfer().sharedStoragePath();
        UpPlan.EcAction action = ec.get(host);
        if (action == null) {
            return null;
        }
        return action == UpPlan.EcAction.EMPTIED
                ? new HostCommands.Preparation(HostCommands.recreateDirectory(path), "emptying the EC directory " + path)
                : new HostCommands.Preparation(HostCommands.createDirectory(path), "creating the EC directory " + path);
    }

    /**
     * Records the launches as being started, prepares each host and starts them (one command per host, all
     * hosts at once), and records their pids.
     */
    private DeploymentState launch(DeploymentState state, List<LaunchPlan.Launch> launches, Map<String, UpPlan.EcAction> ec,
            List<ProcessRecord> startedHere)
            throws IOException, InterruptedException, TransportException {
        Map<String, List<LaunchPlan.Launch>> byHost = new LinkedHashMap<>();
        for (LaunchPlan.Launch launch : launches) {
            state = state.with(launch.record());
            byHost.computeIfAbsent(launch.record().host(), host -> new ArrayList<>()).add(launch);
            progress.step(launch.name(), Progress.Step.STARTING, "starting on " + launch.record().host());
        }
        // status lists the processes as the state has them: in file order, the proxy last.
        state = state.ordered(plan.all().stream().map(LaunchPlan.Launch::name).toList());
        store.write(state);
        Map<String, ProcessControl.HostStart> results = Parallel.map(List.copyOf(byHost.keySet()), host -> {
            try {
                return control.start(host, ecPreparation(host, ec), byHost.get(host));
            } catch (TransportException e) {
                return new ProcessControl.HostStart(List.of(), e.getMessage());
            }
        });
        String firstFailure = null;
        for (Map.Entry<String, List<LaunchPlan.Launch>> host : byHost.entrySet()) {
            ProcessControl.HostStart result = results.get(host.getKey());
            for (ProcessRecord process : result.started()) {
                state = state.with(process);
                startedHere.add(process);
                progress.step(process.name(), Progress.Step.STARTED, "started on " + process.host() + ", pid " + process.processGroup());
            }
            List<ProcessRecord> notStarted = host.getValue().stream().map(LaunchPlan.Launch::record)
                    .filter(record -> result.started().stream().noneMatch(process -> process.name().equals(record.name()))).toList();
            // Still recorded with pid 0: down finds the pid file if one did start after all.
            startedHere.addAll(notStarted);
            notStarted.forEach(record -> progress.step(record.name(), Progress.Step.FAILED, "not started: " + result.failure()));
            if (!notStarted.isEmpty() && firstFailure == null) {
                firstFailure = host.getKey() + ": cannot start " + names(notStarted) + ": " + result.failure();
            }
        }
        store.write(state);
        if (firstFailure != null) {
            throw new TransportException(firstFailure);
        }
        return state;
    }

    private void sendSmokeRequest() throws DeploymentException {
        ProcessRecord proxy = plan.proxy().record();
        long start = System.nanoTime();
        NodeProbe.Completion answer = probe.chat(proxy.address(), proxy.port(),
                SmokeRequest.chatBody(topology.servedModelName()), Duration.ofMinutes(2));
        if (!answer.succeeded()) {
            throw new DeploymentException("the test request through the proxy (text and an image) failed: " + answer.describe());
        }
        say("test request through the proxy (text and an image): answered in "
                + (System.nanoTime() - start) / 1_000_000 + " ms");
    }

    private DeploymentException cleanUp(DeploymentState state, List<ProcessRecord> startedHere, String why)
            throws InterruptedException, IOException {
        if (options.keepOnFailure() || startedHere.isEmpty()) {
            if (!startedHere.isEmpty()) {
                say("leaving " + names(startedHere) + " running (--keep-on-failure); epdctl down -d " + topology.name() + " stops them");
            }
            return new DeploymentException(why);
        }
        say("stopping what this run started: " + names(startedHere));
        Teardown.Result result = new Teardown(control, progress, options.grace()).stop(state, startedHere);
        writeOrDelete(result.state());
        String left = result.clean() ? "" : "\nnot everything could be stopped; see above, then run: epdctl down -d " + topology.name();
        return new DeploymentException(why + left);
    }

    private void writeOrDelete(DeploymentState state) throws IOException {
        if (state.processes().isEmpty()) {
            store.delete(state.deployment());
        } else {
            store.write(state);
        }
    }

    private DeploymentState emptyState() {
        return new DeploymentState(topology.name(), topologyFile.toAbsolutePath().toString(), topology.servedModelName(),
                topology.ecTransfer().sharedStoragePath(), HostTargets.records(topology.hosts()), List.of(), Instant.now());
    }

    /** The previous state, with the hosts it knows and the current topology's (new hosts may have been added). */
    private DeploymentState withHosts(DeploymentState previous) {
        Map<String, HostRecord> hosts = new LinkedHashMap<>(previous.hosts());
        hosts.putAll(HostTargets.records(topology.hosts()));
        return new DeploymentState(previous.deployment(), topologyFile.toAbsolutePath().toString(),
                topology.servedModelName(), topology.ecTransfer().sharedStoragePath(), hosts, previous.processes(), Instant.now());
    }

    private String endpoint() {
        ProcessRecord proxy = plan.proxy().record();
        return NodeProbe.uri(proxy.address(), proxy.port(), "").toString();
    }

    private static String names(List<ProcessRecord> processes) {
        return String.join(", ", processes.stream().map(ProcessRecord::name).toList());
    }

    private void say(String line) {
        progress.say(line);
    }
}
