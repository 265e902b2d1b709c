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

    /** A copy with {@code record} added, replacing any record of the same name. */
    public DeploymentState with(ProcessRecord record) {
        List<ProcessRecord> updated = new ArrayList<>(processes);
        updated.removeIf(process -> process.name().equals(record.name()));
        updated.add(record);
        return new DeploymentState(deployment, topologyFile, servedModelName, ecDirectory, hosts, updated, Instant.now());
    }

    public DeploymentState without(String name) {
        List<ProcessRecord> updated = new ArrayList<>(processes);
        updated.removeIf(process -> process.name().equals(name));
        return new DeploymentState(deployment, topologyFile, servedModelName, ecDirectory, hosts, updated, Instant.now());
    }
}
