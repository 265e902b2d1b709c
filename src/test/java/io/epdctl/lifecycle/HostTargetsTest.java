package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.state.HostRecord;
import io.epdctl.topology.Host;
import io.epdctl.transport.HostTarget;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A topology host becomes the state's record and the transport's target with every login setting kept. */
class HostTargetsTest {
    private static final Host LOCAL = new Host("head", "10.0.0.1", Host.TransportKind.LOCAL, null, null, null, 8);
    private static final Host SSH = new Host("npu-a", "10.0.0.2", Host.TransportKind.SSH, "deploy", 2222, "~/.ssh/k", 16);

    @Test
    void hostsKeepWhereAndHowTheyAreReached() {
        Map<String, Host> hosts = new LinkedHashMap<>();
        hosts.put("npu-a", SSH);
        hosts.put("head", LOCAL);

        Map<String, HostRecord> records = HostTargets.records(hosts);

        assertThat(records).containsExactly(
                Map.entry("npu-a", new HostRecord("npu-a", "10.0.0.2", false, "deploy", 2222, "~/.ssh/k")),
                Map.entry("head", new HostRecord("head", "10.0.0.1", true, null, null, null)));
        assertThat(HostTargets.fromState(records.values())).containsExactly(
                new HostTarget("npu-a", "10.0.0.2", false, "deploy", 2222, "~/.ssh/k"),
                HostTarget.local("head", "10.0.0.1"));
        assertThat(HostTargets.fromTopology(List.of(SSH, LOCAL))).isEqualTo(HostTargets.fromState(records.values()));
    }
}
