package io.epdctl.lifecycle;

import io.epdctl.state.DeploymentState;
import io.epdctl.state.HostRecord;
import io.epdctl.state.ProcessRecord;
import io.epdctl.state.StateStore;
import io.epdctl.topology.Node;
import io.epdctl.topology.Role;
import io.epdctl.topology.Topology;
import io.epdctl.transport.TransportException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code epdctl up}: brings a deployment to what its topology says. Unchanged, ready processes are left
 * alone; changed or dead ones are stopped and started again; new ones are started. The caller holds the
 * deployment's lock. Every process is in the state file before it is started, so that an interrupted
 * {@code up} can always be cleaned by {@code down}.
 */
public final class Deployer {

    public record Options(Duration readyTimeout, Duration grace, Duration pollInterval, boolean keepOnFailure) {
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

    /** Returns the proxy's endpoint once everything is ready (at once when it already was). */
    public String up() throws DeploymentException, InterruptedException, IOException {
        long start = System.nanoTime();
        DeploymentState previous = store.read(topology.name()).orElse(null);
        Map<String, ProcessRecord> running = previous == null ? Map.of() : healthyProcesses(previous);

        List<LaunchPlan.Launch> toStart = new ArrayList<>();
        for (LaunchPlan.Launch launch : plan.all()) {
            ProcessRecord current = running.get(launch.name());
            if (current == null || !current.specHash().equals(launch.record().specHash())) {
                toStart.add(launch);
            }
        }
        Set<String> planned = new LinkedHashSet<>();
        plan.all().forEach(launch -> planned.add(launch.name()));
        List<ProcessRecord> toStop = new ArrayList<>();
        if (previous != null) {
            for (ProcessRecord process : previous.processes()) {
                boolean replaced = toStart.stream().anyMatch(launch -> launch.name().equals(process.name()));
                if (replaced || !planned.contains(process.name())) {
                    toStop.add(process);
                }
            }
        }
        if (toStart.isEmpty() && toStop.isEmpty()) {
            say("deployment " + topology.name() + " is up and unchanged; nothing to do");
            return endpoint();
        }

        DeploymentState state = previous != null ? withHosts(previous) : emptyState();
        if (!toStop.isEmpty()) {
            say("stopping " + names(toStop) + " (changed, failed or no longer in the topology)");
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
            checkHostsFree(toStart);
            // The proxy starts with the nodes: its own start-up then costs nothing, and it waits for its backends.
            state = launch(state, toStart, previous == null, startedHere);
            // A kept proxy is awaited too: it must have seen the restarted nodes healthy before it routes to them
            // (ReadinessWait asks it only after them).
            List<ProcessRecord> awaited = new ArrayList<>(startedHere);
            ProcessRecord proxy = state.process(plan.proxy().name()).orElseThrow();
            if (awaited.stream().noneMatch(process -> process.name().equals(proxy.name()))) {
                awaited.add(proxy);
            }
            new ReadinessWait(control, probe, topology.servedModelName(), progress, options.pollInterval())
                    .await(awaited, options.readyTimeout());
            sendSmokeRequest();
        } catch (DeploymentException | TransportException e) {
            // The store has every record written so far, also those of a launch that failed halfway.
            throw cleanUp(store.read(topology.name()).orElse(state), startedHere, e.getMessage());
        }
        say("deployment " + topology.name() + " is ready after " + String.format("%.1f s", (System.nanoTime() - start) / 1e9));
        return endpoint();
    }

    /** The previous processes that are running and ready, by name; the others will be replaced. */
    private Map<String, ProcessRecord> healthyProcesses(DeploymentState previous) throws InterruptedException {
        Map<String, ProcessState> states = control.probe(previous.processes(), false);
        Map<String, ProcessRecord> healthy = new HashMap<>();
        List<ProcessRecord> running = previous.processes().stream()
                .filter(process -> states.get(process.name()) != null && states.get(process.name()).isRunning())
                .toList();
        Map<ProcessRecord, NodeProbe.Readiness> readiness = Parallel.map(running,
                process -> probe.readiness(process, previous.servedModelName(), Duration.ofSeconds(2)));
        readiness.forEach((process, answer) -> {
            if (answer.ready()) {
                healthy.put(process.name(), process);
            }
        });
        return healthy;
    }

    /**
     * Every process's ports, and its NPUs where npu-smi can tell, must be free on its host before anything
     * starts: else it would fail minutes later, in the middle of loading. Ports an outgoing connection can
     * take first (inside the ephemeral range, not reserved) are warned about, with the line that reserves
     * them. One command per host, all at once.
     */
    private void checkHostsFree(List<LaunchPlan.Launch> launches) throws DeploymentException, TransportException, InterruptedException {
        List<String> hosts = launches.stream().map(launch -> launch.record().host()).distinct().toList();
        Map<String, HostFacts> facts = Parallel.mapOnHosts(hosts, host -> control.hostFacts(host, List.of()));
        Map<String, Map<Integer, Long>> npuUsers = new HashMap<>();
        for (String host : hosts) {
            npuUsers.put(host, facts.get(host).npus().map(NpuSmi.Report::busy).orElse(Map.of()));
        }
        List<String> taken = new ArrayList<>();
        Map<String, Set<Integer>> portsByHost = new LinkedHashMap<>();
        for (LaunchPlan.Launch launch : launches) {
            ProcessRecord record = launch.record();
            portsByHost.computeIfAbsent(record.host(), host -> new TreeSet<>()).addAll(record.ports());
            Set<Integer> wanted = new TreeSet<>(record.ports());
            wanted.retainAll(facts.get(record.host()).listening());
            if (!wanted.isEmpty()) {
                taken.add(record.name() + " needs port " + wanted + " on " + record.host() + ", which something already listens on");
            }
            launch.interfaceAddress()
                    .filter(address -> !facts.get(record.host()).interfaces().containsKey(address))
                    .ifPresent(address -> taken.add(record.name() + " on " + record.host() + ": "
                            + Preflight.noInterface(address, facts.get(record.host()))));
            for (int device : record.devices()) {
                Long user = npuUsers.get(record.host()).get(device);
                if (user != null) {
                    taken.add(record.name() + " needs NPU " + device + " on " + record.host() + ", which pid " + user + " uses");
                }
            }
        }
        if (!taken.isEmpty()) {
            throw new DeploymentException(String.join("\n", taken) + "\nnothing was started");
        }
        portsByHost.forEach((host, ports) -> facts.get(host).ephemeral().ifPresent(range -> {
            Set<Integer> exposed = range.exposed(ports);
            if (!exposed.isEmpty()) {
                say("warning: " + host + ": " + range.advice(exposed));
            }
        }));
    }

    /**
     * What a host does before its nodes start: the EC directory is emptied on encoder hosts, as the guide
     * does, when the deployment starts afresh (a running consumer may still read it otherwise), and created
     * on every other host that has nodes. Null for a host with no node (only the proxy).
     */
    private HostCommands.Preparation ecPreparation(String host, boolean fresh) {
        String path = topology.ecTransfer().sharedStoragePath();
        List<Node> nodes = topology.nodes().stream().filter(node -> node.host().equals(host)).toList();
        if (nodes.isEmpty()) {
            return null;
        }
        if (fresh && nodes.stream().anyMatch(node -> node.role() == Role.ENCODER)) {
            return new HostCommands.Preparation(HostCommands.recreateDirectory(path), "emptying the EC directory " + path);
        }
        return new HostCommands.Preparation(HostCommands.createDirectory(path), "creating the EC directory " + path);
    }

    /**
     * Records the launches as being started, prepares each host and starts them (one command per host, all
     * hosts at once), and records their pids.
     */
    private DeploymentState launch(DeploymentState state, List<LaunchPlan.Launch> launches, boolean fresh,
            List<ProcessRecord> startedHere)
            throws IOException, InterruptedException, TransportException {
        Map<String, List<LaunchPlan.Launch>> byHost = new LinkedHashMap<>();
        for (LaunchPlan.Launch launch : launches) {
            state = state.with(launch.record());
            byHost.computeIfAbsent(launch.record().host(), host -> new ArrayList<>()).add(launch);
            progress.step(launch.name(), Progress.Step.STARTING, "starting on " + launch.record().host());
        }
        store.write(state);
        Map<String, ProcessControl.HostStart> results = Parallel.map(List.copyOf(byHost.keySet()), host -> {
            try {
                return control.start(host, ecPreparation(host, fresh), byHost.get(host));
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
