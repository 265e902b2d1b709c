package io.epdctl.state;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What runs of one deployment, as far as epdctl started it. {@code hosts} is kept so that {@code down}
 * and {@code status} work by name alone, even after the topology file changed or is gone.
 */
public record DeploymentState(
        String deployment,
        String topologyFile,
        String servedModelName,
        String ecDirectory,
        Map<String, HostRecord> hosts,
        List<ProcessRecord> processes,
        Instant updatedAt) {

    public Optional<ProcessRecord> process(String name) {
        return processes.stream().filter(process -> process.name().equals(name)).findFirst();
    }

    /** A copy with {@code record} added at the end, or replacing the record of the same name where it is. */
    public DeploymentState with(ProcessRecord record) {
        List<ProcessRecord> updated = new ArrayList<>(processes);
        int at = updated.stream().map(ProcessRecord::name).toList().indexOf(record.name());
        if (at >= 0) {
            updated.set(at, record);
        } else {
            updated.add(record);
        }
        return new DeploymentState(deployment, topologyFile, servedModelName, ecDirectory, hosts, updated, Instant.now());
    }

    /** A copy with the processes named in {@code order} first, in that order, then the others as they were. */
    public DeploymentState ordered(List<String> order) {
        List<ProcessRecord> updated = new ArrayList<>();
        order.forEach(name -> process(name).ifPresent(updated::add));
        processes.stream().filter(process -> !order.contains(process.name())).forEach(updated::add);
        return new DeploymentState(deployment, topologyFile, servedModelName, ecDirectory, hosts, updated, updatedAt);
    }

    public DeploymentState without(String name) {
        List<ProcessRecord> updated = new ArrayList<>(processes);
        updated.removeIf(process -> process.name().equals(name));
        return new DeploymentState(deployment, topologyFile, servedModelName, ecDirectory, hosts, updated, Instant.now());
    }
}
