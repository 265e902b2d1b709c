package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.epdctl.state.ProcessRecord;
import io.epdctl.state.ProcessSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The order of a rolling change: each case asserts the exact waves and the roles briefly without a backend. */
class RolloutOrderTest {

    private static ProcessRecord record(String name, String role, String host, int port, List<Integer> devices, String... flags) {
        List<String> argv = new ArrayList<>(List.of("vllm", "serve", "/m", "--port", String.valueOf(port)));
        argv.addAll(List.of(flags));
        return new ProcessRecord(name, role, host, "10.0.0." + host.charAt(0), port, devices, List.of(), 100, "1",
                Instant.EPOCH, "/run", name + String.join("", flags) + devices,
                new ProcessSpec(argv, Map.of(), List.of(), devices, host, "10.0.0." + host.charAt(0), "/run", null), null);
    }

    private static LaunchPlan.Launch launch(ProcessRecord record) {
        return new LaunchPlan.Launch(record, "#!/bin/sh\n", "", Optional.empty());
    }

    private static UpPlan.Row keep(ProcessRecord running) {
        return new UpPlan.Row(UpPlan.Action.KEEP, running.name(), running.role(), running.host(), "unchanged, ready", running,
                launch(running));
    }

    private static UpPlan.Row restart(ProcessRecord running, ProcessRecord wanted) {
        return new UpPlan.Row(UpPlan.Action.RESTART, running.name(), running.role(), running.host(), "changed", running,
                launch(wanted));
    }

    private static UpPlan.Row restart(ProcessRecord running) {
        return restart(running, running);
    }

    private static UpPlan.Row start(ProcessRecord wanted) {
        return new UpPlan.Row(UpPlan.Action.START, wanted.name(), wanted.role(), wanted.host(), "added to the topology", null,
                launch(wanted));
    }

    private static UpPlan.Row stop(ProcessRecord running) {
        return new UpPlan.Row(UpPlan.Action.STOP, running.name(), running.role(), running.host(), "no longer in the topology",
                running, null);
    }

    private static final ProcessRecord E0 = record("e0", "encoder", "a", 8000, List.of(0));
    private static final ProcessRecord E1 = record("e1", "encoder", "a", 8001, List.of(1));
    private static final ProcessRecord P0 = record("p0", "prefill", "a", 8002, List.of(2), "--tensor-parallel-size", "1");
    private static final ProcessRecord P1 = record("p1", "prefill", "a", 8003, List.of(3), "--tensor-parallel-size", "1");
    private static final ProcessRecord D0 = record("d0", "decode", "b", 8000, List.of(0), "--tensor-parallel-size", "1");
    private static final ProcessRecord D1 = record("d1", "decode", "b", 8001, List.of(1), "--tensor-parallel-size", "1");

    private static List<String> waves(RolloutOrder order) {
        return order.waves().stream().map(RolloutOrder.Wave::describe).toList();
    }

    private static Set<String> serving(List<UpPlan.Row> rows) {
        return Set.copyOf(rows.stream().filter(row -> row.previous() != null).map(UpPlan.Row::name).toList());
    }

    private static RolloutOrder order(int maxUnavailable, UpPlan.Row... rows) {
        return RolloutOrder.of(List.of(rows), serving(List.of(rows)), maxUnavailable);
    }

    /** A process of the group g0 (a node over several hosts); port 0: a headless one. */
    private static ProcessRecord member(ProcessRecord record, int port) {
        return new ProcessRecord(record.name(), record.role(), record.host(), record.address(), port, record.devices(),
                record.extraPorts(), record.processGroup(), record.startTicks(), record.startedAt(), record.directory(),
                record.specHash(), record.spec(), null, null, "g0", null);
    }

    @Test
    void theProcessesOfANodeOverSeveralHostsGoInOneWave() {
        ProcessRecord leader = member(record("g0", "decode", "b", 8005, List.of(5)), 8005);
        ProcessRecord rank = member(record("g0-dp1", "decode", "c", 0, List.of(0)), 0);

        RolloutOrder order = order(1, restart(D0), restart(leader), restart(rank), restart(E0));

        assertThat(waves(order)).containsExactly("restart d0, restart e0", "restart g0, restart g0-dp1 (at once: the processes of g0 go together)");
    }

    @Test
    void nodesOfOneRoleAreReplacedOneAtATimeAndARoleWithOneNodeIsNamed() {
        RolloutOrder order = order(1, restart(E0), restart(D0), restart(D1));

        assertThat(waves(order)).containsExactly("restart e0, restart d0", "restart d1");
        assertThat(order.rolesWithoutBackend()).as("e0 is the only encoder; a decoder serves in each wave").containsExactly("encoder");
    }

    @Test
    void maxUnavailableTakesMoreOfARoleAtOnce() {
        RolloutOrder order = order(2, restart(E0), restart(E1), restart(D0), restart(D1));

        assertThat(waves(order)).containsExactly("restart e0, restart e1, restart d0, restart d1");
        assertThat(order.rolesWithoutBackend()).containsExactly("encoder", "decode");
    }

    @Test
    void newNodesComeFirstSoThatARoleOfOneKeepsServingWhileItsNodeIsReplaced() {
        RolloutOrder order = order(1, restart(E0), start(E1), keep(D0));

        assertThat(waves(order)).containsExactly("start e1", "restart e0");
        assertThat(order.rolesWithoutBackend()).isEmpty();
    }

    @Test
    void scaleInStopsOneAtATimeAndKeepsTheRest() {
        RolloutOrder order = order(1, keep(D0), stop(D1), keep(E0), stop(E1));

        assertThat(waves(order)).containsExactly("stop d1, stop e1");
        assertThat(order.rolesWithoutBackend()).isEmpty();
    }

    @Test
    void scaleInOfTwoNodesOfARoleGoesOneByOne() {
        ProcessRecord d2 = record("d2", "decode", "b", 8002, List.of(2));

        RolloutOrder order = order(1, keep(D0), stop(D1), stop(d2));

        assertThat(waves(order)).containsExactly("stop d1", "stop d2");
        assertThat(order.rolesWithoutBackend()).isEmpty();
    }

    @Test
    void aNewNodeOnThePortOfANodeToStopWaitsForItsStop() {
        ProcessRecord d2 = record("d2", "decode", "b", 8001, List.of(5));

        RolloutOrder order = order(1, keep(D0), stop(D1), start(d2));

        assertThat(waves(order)).containsExactly("stop d1", "start d2");
        assertThat(order.rolesWithoutBackend()).isEmpty();
    }

    @Test
    void aDeadNodeTakesNoOnesPlace() {
        List<UpPlan.Row> rows = List.of(restart(D0), restart(D1));

        RolloutOrder order = RolloutOrder.of(rows, Set.of("d1"), 1);

        assertThat(waves(order)).containsExactly("restart d0, restart d1");
        assertThat(order.rolesWithoutBackend()).as("d0 was dead: d1 was the only decoder serving").containsExactly("decode");
    }

    @Test
    void aChangeOfTheKvSettingsRestartsPrefillAndDecodeAtOnce() {
        RolloutOrder order = order(1, keep(E0), restart(P0, record("p0", "prefill", "a", 8002, List.of(2), "--tensor-parallel-size", "2")),
                restart(P1, record("p1", "prefill", "a", 8003, List.of(3), "--tensor-parallel-size", "2")),
                restart(D0, record("d0", "decode", "b", 8000, List.of(0), "--tensor-parallel-size", "2")),
                restart(D1, record("d1", "decode", "b", 8001, List.of(1), "--tensor-parallel-size", "2")));

        assertThat(waves(order)).containsExactly("restart p0, restart p1, restart d0, restart d1 "
                + "(at once: their KV settings change (--tensor-parallel-size 1 -> 2))");
        assertThat(order.rolesWithoutBackend()).containsExactly("prefill", "decode");
    }

    @Test
    void aChangeOfTheKvConnectorRestartsPrefillAndDecodeAtOnceButAChangeOfItsPortRolls() {
        String layerwise = "{\"kv_connector\":\"MooncakeLayerwiseConnector\",\"kv_role\":\"kv_producer\",\"kv_port\":\"30000\"}";
        String movedPort = layerwise.replace("30000", "30100");
        String pull = layerwise.replace("MooncakeLayerwiseConnector", "MooncakeConnectorV1");
        ProcessRecord p0 = record("p0", "prefill", "a", 8002, List.of(2), "--kv-transfer-config", layerwise);
        ProcessRecord d0 = record("d0", "decode", "b", 8000, List.of(0), "--kv-transfer-config", layerwise.replace("producer", "consumer"));
        ProcessRecord p1 = record("p1", "prefill", "a", 8003, List.of(3), "--kv-transfer-config", layerwise);
        ProcessRecord d1 = record("d1", "decode", "b", 8001, List.of(1), "--kv-transfer-config", layerwise.replace("producer", "consumer"));
        java.util.function.BiFunction<ProcessRecord, String, ProcessRecord> with = (running, config) -> record(running.name(),
                running.role(), running.host(), running.port(), running.devices(), "--kv-transfer-config",
                running.role().equals("decode") ? config.replace("producer", "consumer") : config);

        RolloutOrder connector = order(1, restart(p0, with.apply(p0, pull)), restart(p1, with.apply(p1, pull)),
                restart(d0, with.apply(d0, pull)), restart(d1, with.apply(d1, pull)));
        RolloutOrder port = order(1, restart(p0, with.apply(p0, movedPort)), restart(p1, with.apply(p1, movedPort)),
                restart(d0, with.apply(d0, movedPort)), restart(d1, with.apply(d1, movedPort)));

        assertThat(waves(connector)).containsExactly("restart p0, restart p1, restart d0, restart d1 "
                + "(at once: their KV settings change (kv_connector MooncakeLayerwiseConnector -> MooncakeConnectorV1))");
        assertThat(connector.rolesWithoutBackend()).containsExactly("prefill", "decode");
        assertThat(waves(port)).containsExactly("restart p0, restart d0", "restart p1, restart d1");
    }

    @Test
    void otherChangesOfPrefillAndDecodeStillRoll() {
        RolloutOrder order = order(1, restart(P0, record("p0", "prefill", "a", 8002, List.of(2), "--tensor-parallel-size", "1",
                "--max-num-seqs", "96")), restart(P1), restart(D0), restart(D1));

        assertThat(waves(order)).containsExactly("restart p0, restart d0", "restart p1, restart d1");
        assertThat(order.rolesWithoutBackend()).isEmpty();
    }

    @Test
    void nodesThatSwapTheirNpusGoAtOnce() {
        RolloutOrder order = order(1, restart(D0, record("d0", "decode", "b", 8000, List.of(1), "--tensor-parallel-size", "1")),
                restart(D1, record("d1", "decode", "b", 8001, List.of(0), "--tensor-parallel-size", "1")));

        assertThat(waves(order)).containsExactly("restart d0, restart d1 (at once: their ports or NPUs are held by one another)");
        assertThat(order.rolesWithoutBackend()).containsExactly("decode");
    }

    @Test
    void keptAndWaitedNodesAreNoStep() {
        assertThat(order(1, keep(E0), keep(D0)).waves()).isEmpty();
        assertThat(order(1, keep(E0), keep(D0)).rolesWithoutBackend()).isEmpty();
    }

    @Test
    void maxUnavailableIsAtLeastOne() {
        assertThatThrownBy(() -> order(0, restart(E0))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxUnavailable must be at least 1, not 0");
    }
}
