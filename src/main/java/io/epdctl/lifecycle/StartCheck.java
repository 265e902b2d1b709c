package io.epdctl.lifecycle;

import io.epdctl.state.ProcessRecord;
import io.epdctl.transport.CommandResult;
import io.epdctl.transport.TransportException;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * What {@code up} checks before it stops or starts anything: on every host where something will start, in one
 * round trip each (all hosts at once), that each process's command is found after its setup lines, the model
 * path exists (where it is a path), the ports and NPUs are free, the address's interface is there and the EC
 * directory can be created. Ports and NPUs held by processes the plan stops count as free. Changes nothing.
 */
final class StartCheck {
    /** What was found: problems (nothing may be touched then) and warnings. */
    record Result(List<String> problems, List<String> warnings) {
    }

    private final ProcessControl control;

    StartCheck(ProcessControl control) {
        this.control = control;
    }

    /**
     * {@code model} is checked where it is an absolute path, on hosts where nodes start; {@code ecDirectory} on
     * hosts the plan prepares it on ({@code ecHosts}).
     */
    Result run(List<LaunchPlan.Launch> starting, List<ProcessRecord> stopping, String model, String ecDirectory,
            Set<String> ecHosts) throws InterruptedException {
        Map<String, List<LaunchPlan.Launch>> byHost = new LinkedHashMap<>();
        starting.forEach(launch -> byHost.computeIfAbsent(launch.record().host(), host -> new ArrayList<>()).add(launch));
        Map<String, Result> perHost = Parallel.map(List.copyOf(byHost.keySet()), host -> {
            try {
                return checkHost(host, byHost.get(host), stopping, model, ecHosts.contains(host) ? ecDirectory : null);
            } catch (TransportException e) {
                return new Result(List.of(host + ": cannot be checked: " + e.getMessage()), List.of());
            }
        });
        List<String> problems = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        for (String host : byHost.keySet()) {
            problems.addAll(perHost.get(host).problems());
            warnings.addAll(perHost.get(host).warnings());
        }
        return new Result(problems, warnings);
    }

    private Result checkHost(String host, List<LaunchPlan.Launch> launches, List<ProcessRecord> stopping, String model,
            String ecDirectory) throws TransportException {
        Set<Integer> npus = new TreeSet<>();
        Map<String, Map.Entry<List<String>, String>> commands = new LinkedHashMap<>();
        boolean nodes = false;
        for (LaunchPlan.Launch launch : launches) {
            npus.addAll(launch.record().devices());
            commands.put(launch.name(), new AbstractMap.SimpleEntry<>(launch.record().spec().setup(), launch.record().spec().argv().get(0)));
            nodes |= !launch.record().isProxy();
        }
        String modelPath = nodes && model != null && model.startsWith("/") ? model : null;
        CommandResult result = control.run(host, HostCommands.startCheck(List.copyOf(npus), commands, modelPath, ecDirectory));
        HostFacts facts = HostCommands.facts(host, result.stdout());
        Map<String, String> found = new HashMap<>();
        for (String report : HostCommands.reports(result.stdout(), "command")) {
            String[] nameAndPath = report.split(" ", 2);
            found.put(nameAndPath[0], nameAndPath.length == 2 ? nameAndPath[1] : "");
        }
        Set<String> reports = new LinkedHashSet<>(result.stdout().lines().toList());

        // What the processes this plan stops on this host hold is theirs to give back.
        Set<Integer> freedPorts = new TreeSet<>();
        Set<Integer> freedNpus = new TreeSet<>();
        stopping.stream().filter(process -> process.host().equals(host)).forEach(process -> {
            freedPorts.addAll(process.ports());
            freedNpus.addAll(process.devices());
        });
        Map<Integer, Long> npuUsers;
        try {
            npuUsers = facts.npus().map(NpuSmi.Report::busy).orElse(Map.of());
        } catch (TransportException e) {
            npuUsers = Map.of();
        }
        List<String> problems = new ArrayList<>();
        Set<Integer> allPorts = new TreeSet<>();
        for (LaunchPlan.Launch launch : launches) {
            ProcessRecord record = launch.record();
            String command = commands.get(record.name()).getValue();
            if (!found.containsKey(record.name())) {
                problems.add(record.name() + " on " + host + ": " + command + " is not found (after the setup lines)");
            }
            allPorts.addAll(record.ports());
            Set<Integer> taken = new TreeSet<>(record.ports());
            taken.retainAll(facts.listening());
            taken.removeAll(freedPorts);
            if (!taken.isEmpty()) {
                problems.add(record.name() + " needs port " + taken + " on " + host + ", which something already listens on");
            }
            launch.interfaceAddress()
                    .filter(address -> !facts.interfaces().containsKey(address))
                    .ifPresent(address -> problems.add(record.name() + " on " + host + ": " + Preflight.noInterface(address, facts)));
            for (int device : record.devices()) {
                Long user = npuUsers.get(device);
                if (user != null && !freedNpus.contains(device)) {
                    problems.add(record.name() + " needs NPU " + device + " on " + host + ", which pid " + user + " uses");
                }
            }
        }
        if (modelPath != null && !reports.contains(HostCommands.REPORT + " model present")) {
            problems.add(host + ": the model " + modelPath + " does not exist");
        }
        if (ecDirectory != null && !reports.contains(HostCommands.REPORT + " ec-creatable")) {
            problems.add(host + ": the EC directory " + ecDirectory + " cannot be created (no writable directory on its path)");
        }
        List<String> warnings = new ArrayList<>();
        Optional<EphemeralPorts> range = facts.ephemeral();
        range.ifPresent(ports -> {
            Set<Integer> exposed = ports.exposed(allPorts);
            if (!exposed.isEmpty()) {
                warnings.add(host + ": " + ports.advice(exposed));
            }
        });
        return new Result(problems, warnings);
    }
}
