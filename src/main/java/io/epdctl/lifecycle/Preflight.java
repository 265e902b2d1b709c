package io.epdctl.lifecycle;

import io.epdctl.render.ContainerLaunch;
import io.epdctl.render.NetworkSettings;
import io.epdctl.topology.Footprint;
import io.epdctl.topology.Node;
import io.epdctl.topology.ProxySpec;
import io.epdctl.topology.Role;
import io.epdctl.topology.Topology;
import io.epdctl.transport.CommandResult;
import io.epdctl.transport.HostConnections;
import io.epdctl.transport.TransportException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

/**
 * {@code epdctl check}: everything {@code up} needs from the hosts, checked on all hosts at once without
 * starting anything: login, the commands, the model, the NPUs, free ports, and an EC directory that is
 * writable and really the same directory for an encoder and its consumers on other machines.
 */
public final class Preflight {
    public enum Level { OK, WARNING, FAILED }

    public record Finding(String host, String check, Level level, String message) {
    }

    private final Topology topology;
    private final ProcessControl control;
    private final Held own;

    /**
     * What the deployment itself holds as it runs (its running processes' ports and NPUs, per host): checking the
     * file of a running deployment does not count them as taken.
     */
    public record Held(String deployment, Map<String, Set<Integer>> ports, Map<String, Set<Integer>> npus) {
        public static final Held NOTHING = new Held("", Map.of(), Map.of());

        /** What the running processes of {@code state} hold; {@code states} is what the probe saw of each. */
        public static Held by(io.epdctl.state.DeploymentState state, Map<String, ProcessState> states) {
            Map<String, Set<Integer>> ports = new LinkedHashMap<>();
            Map<String, Set<Integer>> npus = new LinkedHashMap<>();
            for (io.epdctl.state.ProcessRecord process : state.processes()) {
                ProcessState seen = states.get(process.name());
                if (seen != null && seen.isRunning()) {
                    ports.computeIfAbsent(process.host(), host -> new TreeSet<>()).addAll(process.ports());
                    npus.computeIfAbsent(process.host(), host -> new TreeSet<>()).addAll(process.devices());
                }
            }
            return new Held(state.deployment(), ports, npus);
        }

        Set<Integer> portsOn(String host) {
            return ports.getOrDefault(host, Set.of());
        }

        Set<Integer> npusOn(String host) {
            return npus.getOrDefault(host, Set.of());
        }
    }

    public Preflight(Topology topology, HostConnections connections) {
        this(topology, connections, Held.NOTHING);
    }

    public Preflight(Topology topology, HostConnections connections, Held own) {
        this.topology = topology;
        this.control = new ProcessControl(connections);
        this.own = own;
    }

    public List<Finding> run() throws InterruptedException {
        List<Finding> findings = new ArrayList<>();
        Map<String, HostCheck> perHost = Parallel.map(List.copyOf(topology.hosts().keySet()), this::checkHost);
        perHost.values().forEach(check -> findings.addAll(check.findings()));
        Map<String, NpuSmi.Report> npus = new LinkedHashMap<>();
        perHost.forEach((host, check) -> check.npus().ifPresent(report -> npus.put(host, report)));
        findings.addAll(chipTypes(topology, npus));
        findings.addAll(checkEcSharing());
        return findings;
    }

    /** What checking one host found, and its NPUs when npu-smi could tell (for the checks across hosts). */
    private record HostCheck(List<Finding> findings, Optional<NpuSmi.Report> npus) {
    }

    private HostCheck checkHost(String host) {
        List<Finding> findings = new ArrayList<>();
        try {
            control.hosts().require(host);
            findings.add(new Finding(host, "login", Level.OK, "reached"));
        } catch (TransportException e) {
            findings.add(new Finding(host, "login", Level.FAILED, e.getMessage()));
            return new HostCheck(findings, Optional.empty());
        }
        List<Node> nodes = topology.nodes().stream()
                .filter(node -> node.rankHosts().stream().anyMatch(share -> share.host().equals(host))).toList();
        boolean proxyHere = topology.proxy().host().equals(host);
        List<Footprint> footprints = topology.footprints();
        Optional<NpuSmi.Report> report = Optional.empty();
        try {
            HostFacts facts = control.hostFacts(host, npusOn(footprints, host));
            if (!nodes.isEmpty()) {
                if (nodes.stream().anyMatch(node -> !node.inContainer())) {
                    findings.add(commandPresent(host, topology.vllm().setup(), topology.vllm().command()));
                }
                findings.addAll(containers(host, nodes));
                findings.add(modelPresent(host));
                try {
                    report = facts.npus();
                    findings.addAll(npus(host, footprints, report, own.npusOn(host)));
                } catch (TransportException e) {
                    findings.add(new Finding(host, "npus", Level.FAILED, e.getMessage()));
                }
                findings.addAll(npuLinks(host, facts));
                networkInterface(host, nodes, facts).ifPresent(findings::add);
                findings.add(ecWritable(host));
            }
            if (proxyHere) {
                findings.add(proxyRunnable(host));
                if (topology.proxy().isBuiltIn()) {
                    findings.add(handOver(host, facts.migrateRequests()));
                }
            }
            findings.add(portsFree(host, footprints, facts, own));
            ephemeralPorts(host, footprints, facts).ifPresent(findings::add);
        } catch (TransportException e) {
            findings.add(new Finding(host, "commands", Level.FAILED, e.getMessage()));
        }
        return new HostCheck(findings, report);
    }

    private Finding commandPresent(String host, List<String> setup, String command) throws TransportException {
        CommandResult result = control.run(host, HostCommands.commandPath(setup, command));
        List<String> path = HostCommands.reports(result.stdout(), "path");
        return result.succeeded() && path.size() == 1
                ? new Finding(host, "command", Level.OK, command + " is " + path.get(0))
                : new Finding(host, "command", Level.FAILED, command + " is not found (after the setup lines)");
    }

    /**
     * For the nodes of {@code runtime: docker} here, per CLI: the CLI is installed, its daemon answers, each image
     * is present (pulling is the operator's decision: {@code up --pull}); and every device file a container gets
     * (its NPUs' and the driver's manager devices) is on the host.
     */
    private List<Finding> containers(String host, List<Node> nodes) throws TransportException {
        List<Node> inContainers = nodes.stream().filter(Node::inContainer).toList();
        if (inContainers.isEmpty()) {
            return List.of();
        }
        List<Finding> findings = new ArrayList<>();
        Map<String, List<Node>> byCommand = new LinkedHashMap<>();
        inContainers.forEach(node -> byCommand.computeIfAbsent(node.container().command(), c -> new ArrayList<>()).add(node));
        for (Map.Entry<String, List<Node>> entry : byCommand.entrySet()) {
            String command = entry.getKey();
            List<String> images = entry.getValue().stream().map(node -> node.container().image()).distinct().toList();
            Map<String, List<String>> devices = new LinkedHashMap<>();
            for (Node node : entry.getValue()) {
                for (String device : ContainerLaunch.deviceFiles(topology.footprint(node).placement().npus())) {
                    devices.computeIfAbsent(device, d -> new ArrayList<>()).add(node.name());
                }
            }
            String output = control.containerFacts(host, command, images, List.copyOf(devices.keySet()));
            findings.addAll(ContainerChecks.findings(host, command, output, devices));
        }
        return findings;
    }

    private Finding modelPresent(String host) throws TransportException {
        String model = topology.model();
        if (!model.startsWith("/")) {
            return new Finding(host, "model", Level.WARNING, model + " is not a path; vLLM will look it up by name");
        }
        CommandResult result = control.run(host, HostCommands.exists(model));
        return result.succeeded()
                ? new Finding(host, "model", Level.OK, model + " is present")
                : new Finding(host, "model", Level.FAILED, model + " does not exist");
    }

    /** With npu-smi, the NPUs must exist and run no process; without it (no driver here), a warning. */
    private static List<Finding> npus(String host, List<Footprint> footprints, Optional<NpuSmi.Report> npuSmi, Set<Integer> own) {
        if (npuSmi.isEmpty()) {
            return List.of(new Finding(host, "npus", Level.WARNING, "npu-smi is not installed; NPUs not checked"));
        }
        NpuSmi.Report report = npuSmi.get();
        List<Finding> findings = new ArrayList<>();
        for (Footprint footprint : footprints) {
            for (int device : npusOf(footprint, host)) {
                if (!report.npus().contains(device)) {
                    findings.add(new Finding(host, "npus", Level.FAILED, footprint.name() + ": NPU " + device + " is not on this host "
                            + "(npu-smi lists " + report.npus() + ")"));
                } else if (report.busy().containsKey(device) && !own.contains(device)) {
                    findings.add(new Finding(host, "npus", Level.FAILED, footprint.name() + ": NPU " + device + " is in use by pid "
                            + report.busy().get(device)));
                }
            }
        }
        if (findings.isEmpty()) {
            findings.add(new Finding(host, "npus", Level.OK, "NPUs present and idle"));
        }
        return findings;
    }

    /**
     * With hccn_tool, the network port of every NPU used here must be up and healthy (the multi-node
     * tutorial's {@code -link -g} and {@code -net_health -g}); without it, a warning.
     */
    private static List<Finding> npuLinks(String host, HostFacts facts) {
        if (facts.links().isEmpty()) {
            return List.of(new Finding(host, "npu-links", Level.WARNING, "hccn_tool is not installed; NPU network ports not checked"));
        }
        List<Finding> findings = new ArrayList<>();
        Map<Integer, NpuLinks.Link> links = facts.links().get();
        for (NpuLinks.Link link : links.values()) {
            link.problem().ifPresent(problem -> findings.add(new Finding(host, "npu-links", Level.FAILED, problem)));
        }
        if (findings.isEmpty()) {
            findings.add(new Finding(host, "npu-links", Level.OK, "NPU network ports " + links.keySet() + " are up and healthy"));
        }
        return findings;
    }

    /**
     * Where nodes here get their *_SOCKET_IFNAME from the interface carrying the host's address, some interface
     * must carry it: else the address is not this host's, and the nodes would stop at their start.
     */
    private Optional<Finding> networkInterface(String host, List<Node> nodes, HostFacts facts) {
        Optional<String> address = nodes.stream().map(node -> NetworkSettings.of(topology, node).interfaceAddress())
                .flatMap(Optional::stream).findFirst();
        if (address.isEmpty()) {
            return Optional.empty();
        }
        String carrier = facts.interfaces().get(address.get());
        return Optional.of(carrier != null
                ? new Finding(host, "network", Level.OK, address.get() + " is on " + carrier + " (the nodes' "
                        + String.join(", ", NetworkSettings.INTERFACE_VARIABLES) + ", unless set in env)")
                : new Finding(host, "network", Level.FAILED, noInterface(address.get(), facts)));
    }

    /** Why the interface of {@code address} cannot be derived on a host, and what to do. */
    static String noInterface(String address, HostFacts facts) {
        return "no network interface of this host carries " + address + (facts.interfaces().isEmpty()
                ? " ('ip -o addr show' printed nothing: is iproute2 installed?)"
                : " (it has " + String.join(", ", facts.interfaces().entrySet().stream()
                        .map(entry -> entry.getKey() + " on " + entry.getValue()).toList()) + ")")
                + ": give the host's own address, or set " + String.join(", ", NetworkSettings.INTERFACE_VARIABLES) + " in env";
    }

    private Finding ecWritable(String host) throws TransportException {
        String directory = topology.ecTransfer().sharedStoragePath();
        String probe = directory + "/.epdctl-check-" + UUID.randomUUID();
        CommandResult result = control.run(host, HostCommands.writable(directory, probe));
        return result.succeeded()
                ? new Finding(host, "ec-directory", Level.OK, directory + " is writable")
                : new Finding(host, "ec-directory", Level.FAILED, directory + " is not writable: " + result.stderr().strip());
    }

    private Finding proxyRunnable(String host) throws TransportException {
        ProxySpec proxy = topology.proxy();
        if (proxy.isBuiltIn()) {
            return commandPresent(host, proxy.setup(), proxy.command());
        }
        List<String> modules = proxy.kind().modules();
        CommandResult result = control.run(host, HostCommands.proxyScriptRunnable(proxy.setup(), proxy.python(), proxy.script(),
                modules));
        String imports = String.join(", ", modules);
        if (result.succeeded()) {
            return new Finding(host, "proxy", Level.OK, proxy.python() + " and " + proxy.script() + " are present; "
                    + proxy.python() + " imports " + imports);
        }
        String why = result.stderr().strip();
        if (why.isEmpty() || why.endsWith(" is not found") || why.endsWith(" is not readable")) {
            return new Finding(host, "proxy", Level.FAILED, why.isEmpty() ? proxy.python() + " or " + proxy.script()
                    + " is missing" : why);
        }
        return new Finding(host, "proxy", Level.FAILED, proxy.python() + " cannot import what the " + proxy.kind().yamlName()
                + " script needs (" + imports + "): " + why);
    }

    private static List<Integer> npusOf(Footprint footprint, String host) {
        return footprint.on(host).stream().flatMap(placement -> placement.npus().stream()).toList();
    }

    /** Every NPU a node uses on {@code host}, once each. */
    private static List<Integer> npusOn(List<Footprint> footprints, String host) {
        return footprints.stream().flatMap(footprint -> npusOf(footprint, host).stream()).distinct().sorted().toList();
    }

    /** Every port a node or the proxy listens on at {@code host}. */
    private static Set<Integer> portsOn(List<Footprint> footprints, String host) {
        Set<Integer> ports = new TreeSet<>();
        for (Footprint footprint : footprints) {
            footprint.on(host).forEach(placement -> ports.addAll(placement.ports()));
        }
        return ports;
    }

    private static Finding portsFree(String host, List<Footprint> footprints, HostFacts facts, Held own) {
        Set<Integer> wanted = portsOn(footprints, host);
        Set<Integer> taken = new TreeSet<>(wanted);
        taken.retainAll(facts.listening());
        Set<Integer> ours = new TreeSet<>(taken);
        ours.retainAll(own.portsOn(host));
        taken.removeAll(ours);
        if (!taken.isEmpty()) {
            return new Finding(host, "ports", Level.FAILED, "ports " + taken + " are already in use");
        }
        return new Finding(host, "ports", Level.OK, ours.isEmpty() ? "ports " + wanted + " are free"
                : "ports " + wanted + " are free or held by deployment " + own.deployment() + " itself (" + ours + ")");
    }

    /**
     * Whether a hand-over of the built-in proxy can move the connections the old proxy's listener still queues when it
     * closes to the new one (Linux 5.14's net.ipv4.tcp_migrate_req); else the kernel resets them and their clients
     * must send their requests again.
     */
    static Finding handOver(String host, String migrateRequests) {
        return switch (migrateRequests) {
            case "1" -> new Finding(host, "hand-over", Level.OK,
                    "net.ipv4.tcp_migrate_req = 1: a proxy hand-over moves the connections queued at the old proxy to the new one");
            case "" -> new Finding(host, "hand-over", Level.WARNING, "this kernel has no net.ipv4.tcp_migrate_req (Linux 5.14 added it):"
                    + " in a proxy hand-over, connections queued at the old proxy as it stops listening are reset, and their clients"
                    + " must send their requests again");
            default -> new Finding(host, "hand-over", Level.WARNING, "net.ipv4.tcp_migrate_req = " + migrateRequests
                    + ": in a proxy hand-over, connections queued at the old proxy as it stops listening are reset, and their clients"
                    + " must send their requests again; to move them to the new proxy: sysctl -w net.ipv4.tcp_migrate_req=1"
                    + " (and net.ipv4.tcp_migrate_req = 1 in a file of /etc/sysctl.d/ to keep it)");
        };
    }

    /** Listener ports that an outgoing connection may take before their node binds them: a warning with the fix. */
    private static Optional<Finding> ephemeralPorts(String host, List<Footprint> footprints, HostFacts facts) {
        Set<Integer> wanted = portsOn(footprints, host);
        if (wanted.isEmpty()) {
            return Optional.empty();
        }
        if (facts.ephemeral().isEmpty()) {
            return Optional.of(new Finding(host, "port-range", Level.WARNING,
                    "cannot read /proc/sys/net/ipv4/ip_local_port_range; ports not checked against the ephemeral range"));
        }
        EphemeralPorts range = facts.ephemeral().get();
        Set<Integer> exposed = range.exposed(wanted);
        return Optional.of(exposed.isEmpty()
                ? new Finding(host, "port-range", Level.OK, "ports " + wanted + " are outside the ephemeral range "
                        + range.first() + "-" + range.last() + " or reserved")
                : new Finding(host, "port-range", Level.WARNING, range.advice(exposed)));
    }

    /**
     * Prefill and decode nodes must use one chip type: a KV cache is not handed between Atlas A2 and A3
     * chips. Checked where npu-smi told the chips of the NPUs each uses.
     */
    static List<Finding> chipTypes(Topology topology, Map<String, NpuSmi.Report> npus) {
        Map<String, String> familyOf = new LinkedHashMap<>(); // node -> chip, for the nodes npu-smi told
        Map<String, NpuSmi.Chip> chipOf = new LinkedHashMap<>();
        for (Node node : topology.nodes()) {
            if (node.role() != Role.PREFILL && node.role() != Role.DECODE) {
                continue;
            }
            NpuSmi.Report report = npus.get(node.host());
            if (report == null) {
                continue;
            }
            for (int device : npusOf(topology.footprint(node), node.host())) {
                NpuSmi.Chip chip = report.chips().get(device);
                if (chip != null) {
                    familyOf.putIfAbsent(node.name(), chip.family());
                    chipOf.putIfAbsent(node.name(), chip);
                }
            }
        }
        Set<String> families = new LinkedHashSet<>(familyOf.values());
        if (families.isEmpty()) {
            return List.of();
        }
        String host = topology.nodes().stream().filter(node -> chipOf.containsKey(node.name())).findFirst().orElseThrow().host();
        if (families.size() == 1) {
            return List.of(new Finding(host, "npu-types", Level.OK, "prefill and decode nodes run on "
                    + String.join(", ", chipOf.values().stream().map(NpuSmi.Chip::describe).distinct().toList()) + " NPUs"));
        }
        List<String> each = new ArrayList<>();
        chipOf.forEach((node, chip) -> each.add(node + " " + chip.describe()));
        return List.of(new Finding(host, "npu-types", Level.FAILED, "prefill and decode nodes run on different chip types ("
                + String.join(", ", each) + "): a KV cache is not transferred between " + String.join(" and ", families)
                + " chips; place them on one chip type"));
    }

    /** A marker written on each encoder host must be readable on every consumer host that is another machine. */
    private List<Finding> checkEcSharing() throws InterruptedException {
        String directory = topology.ecTransfer().sharedStoragePath();
        List<Finding> findings = new ArrayList<>();
        for (Node encoder : topology.nodes(Role.ENCODER)) {
            Set<String> consumerHosts = new LinkedHashSet<>();
            topology.nodes().stream()
                    .filter(node -> "ec_consumer".equals(node.role().ecRole()))
                    .filter(node -> !topology.hostOf(node).machine().equals(topology.hostOf(encoder).machine()))
                    .forEach(node -> consumerHosts.add(node.host()));
            if (consumerHosts.isEmpty()) {
                continue;
            }
            findings.addAll(shared(encoder.host(), List.copyOf(consumerHosts), directory));
        }
        return findings;
    }

    private List<Finding> shared(String encoderHost, List<String> consumerHosts, String directory) throws InterruptedException {
        String token = UUID.randomUUID().toString();
        String marker = directory + "/.epdctl-shared-" + token;
        List<Finding> findings = new ArrayList<>();
        try {
            control.run(encoderHost, HostCommands.writeFile(marker, token));
        } catch (TransportException e) {
            return List.of(new Finding(encoderHost, "ec-shared", Level.FAILED, "cannot write a marker: " + e.getMessage()));
        }
        Map<String, Finding> reads = Parallel.map(consumerHosts, host -> {
            try {
                CommandResult result = control.run(host, HostCommands.readFile(marker));
                return result.succeeded() && result.stdout().strip().equals(token)
                        ? new Finding(host, "ec-shared", Level.OK, directory + " is shared with " + encoderHost)
                        : new Finding(host, "ec-shared", Level.FAILED, directory + " is not the same directory as on "
                                + encoderHost + " (a marker written there is not here): mount shared storage on both");
            } catch (TransportException e) {
                return new Finding(host, "ec-shared", Level.FAILED, e.getMessage());
            }
        });
        findings.addAll(reads.values());
        try {
            control.run(encoderHost, HostCommands.removeFile(marker));
        } catch (TransportException e) {
            findings.add(new Finding(encoderHost, "ec-shared", Level.WARNING, "marker " + marker + " not removed: " + e.getMessage()));
        }
        return findings;
    }
}
