package io.epdctl.lifecycle;

import io.epdctl.state.HostRecord;
import io.epdctl.topology.Host;
import io.epdctl.transport.HostTarget;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a host changes hands: the topology's {@link Host} becomes the state's {@link HostRecord} (kept
 * for {@code down} and {@code status} without the file), and either becomes the transport's
 * {@link HostTarget}. The state and the transport know nothing of the topology.
 */
public final class HostTargets {
    private HostTargets() {
    }

    public static HostRecord record(Host host) {
        return new HostRecord(host.name(), host.address(), host.isLocal(), host.user(), host.sshPort(), host.identityFile());
    }

    /** The records of {@code hosts}, by name, in their order. */
    public static Map<String, HostRecord> records(Map<String, Host> hosts) {
        Map<String, HostRecord> records = new LinkedHashMap<>();
        hosts.forEach((name, host) -> records.put(name, record(host)));
        return records;
    }

    public static HostTarget target(HostRecord host) {
        return new HostTarget(host.name(), host.address(), host.local(), host.user(), host.sshPort(), host.identityFile());
    }

    public static HostTarget target(Host host) {
        return target(record(host));
    }

    public static List<HostTarget> fromTopology(Collection<Host> hosts) {
        return hosts.stream().map(HostTargets::target).toList();
    }

    public static List<HostTarget> fromState(Collection<HostRecord> hosts) {
        return hosts.stream().map(HostTargets::target).toList();
    }

    /**
     * The hosts a change of a deployment touches: the topology's, then those only the state knows (processes
     * there may have to be stopped).
     */
    public static List<HostTarget> forChange(Map<String, Host> topology, io.epdctl.state.DeploymentState recorded) {
        Map<String, HostTarget> hosts = new LinkedHashMap<>();
        topology.forEach((name, host) -> hosts.put(name, target(host)));
        if (recorded != null) {
            recorded.hosts().forEach((name, host) -> hosts.putIfAbsent(name, target(host)));
        }
        return List.copyOf(hosts.values());
    }
}
