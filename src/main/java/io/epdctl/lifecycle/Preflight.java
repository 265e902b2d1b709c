package io.epdctl.lifecycle;

import io.epdctl.topology.Footprint;
import io.epdctl.topology.Node;
import io.epdctl.topology.ProxySpec;
import io.epdctl.topology.Role;
import io.epdctl.topology.Topology;
import io.epdctl.transport.CommandResult;
import io.epdctl.transport.HostConnections;
import io.epdctl.transport.TransportException;
import java.util.ArrayList;
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

    public Preflight(Topology topology, HostConnections connections) {
        this.topology = topology;
        this.control = new ProcessControl(connections);
    }

    public List<Finding> run() throws InterruptedException {
        List<Finding> findings = new ArrayList<>();
        Map<String, List<Finding>> perHost = Parallel.map(List.copyOf(topology.hosts().keySet()), this::checkHost);
        perHost.values().forEach(findings::addAll);
        findings.addAll(checkEcSharing());
        return findings;
    }

    private List<Finding> checkHost(String host) {
        List<Finding> findings = new ArrayList<>();
        try {
            control.hosts().require(host);
            findings.add(new Finding(host, "login", Level.OK, "reached"));
        } catch (TransportException e) {
            findings.add(new Finding(host, "login", Level.FAILED, e.getMessage()));
            return findings;
        }
        List<Node> nodes = topology.nodes().stream().filter(node -> node.host().equals(host)).toList();
        boolean proxyHere = topology.proxy().host().equals(host);
        List<Footprint> footprints = topology.footprints();
        try {
            if (!nodes.isEmpty()) {
                findings.add(commandPresent(host, topology.vllm().setup(), topology.vllm().command()));
                findings.add(modelPresent(host));
                findings.addAll(npus(host, footprints));
                findings.add(ecWritable(host));
            }
            if (proxyHere) {
                findings.add(proxyRunnable(host));
            }
            findings.add(portsFree(host, footprints));
        } catch (TransportException e) {
            findings.add(new Finding(host, "commands", Level.FAILED, e.getMessage()));
        }
        return findings;
    }

    private Finding commandPresent(String host, List<String> setup, String command) throws TransportException {
        CommandResult result = control.run(host, HostCommands.commandPath(setup, command));
        List<String> path = HostCommands.reports(result.stdout(), "path");
        return result.succeeded() && path.size() == 1
                ? new Finding(host, "command", Level.OK, command + " is " + path.get(0))
                : new Finding(host, "command", Level.FAILED, command + " is not found (after the setup lines)");
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
    private List<Finding> npus(String host, List<Footprint> footprints) throws TransportException {
        Optional<NpuSmi.Report> npuSmi;
        try {
            npuSmi = NpuSmi.interpret(host, control.run(host, HostCommands.npuSmi()).stdout());
        } catch (TransportException e) {
            return List.of(new Finding(host, "npus", Level.FAILED, e.getMessage()));
        }
        if (npuSmi.isEmpty()) {
            return List.of(new Finding(host, "npus", Level.WARNING, "npu-smi is not installed; NPUs not checked"));
        }
        NpuSmi.Report report = npuSmi.get();
        List<Finding> findings = new ArrayList<>();
        for (Footprint footprint : footprints) {
            for (int device : npusOn(footprint, host)) {
                if (!report.npus().contains(device)) {
                    findings.add(new Finding(host, "npus", Level.FAILED, footprint.name() + ": NPU " + device + " is not on this host "
                            + "(npu-smi lists " + report.npus() + ")"));
                } else if (report.busy().containsKey(device)) {
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
        CommandResult result = control.run(host, HostCommands.proxyScriptRunnable(proxy.setup(), proxy.python(), proxy.script()));
        return result.succeeded()
                ? new Finding(host, "proxy", Level.OK, proxy.python() + " and " + proxy.script() + " are present")
                : new Finding(host, "proxy", Level.FAILED, proxy.python() + " or " + proxy.script() + " is missing");
    }

    private static List<Integer> npusOn(Footprint footprint, String host) {
        return footprint.on(host).stream().flatMap(placement -> placement.npus().stream()).toList();
    }

    private Finding portsFree(String host, List<Footprint> footprints) throws TransportException {
        Set<Integer> wanted = new TreeSet<>();
        for (Footprint footprint : footprints) {
            footprint.on(host).forEach(placement -> wanted.addAll(placement.ports()));
        }
        Set<Integer> taken = new TreeSet<>(wanted);
        taken.retainAll(control.listeningPorts(host));
        return taken.isEmpty()
                ? new Finding(host, "ports", Level.OK, "ports " + wanted + " are free")
                : new Finding(host, "ports", Level.FAILED, "ports " + taken + " are already in use");
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
