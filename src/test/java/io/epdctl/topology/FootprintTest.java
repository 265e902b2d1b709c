package io.epdctl.topology;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The one derivation of what each node listens on and which NPUs it holds, per host. */
class FootprintTest {
    private static final KvTransfer KV = new KvTransfer(KvTransfer.LAYERWISE_CONNECTOR, 50001, null, Map.of());

    private static Node node(String name, Role role, List<Integer> devices, int port, int tp, int dp, Integer kvPort) {
        return new Node(name, role, "npu-a", devices, port, tp, dp, kvPort, Map.of(), Map.of(), RestartPolicy.ON_FAILURE, null);
    }

    private static Listener kv(int first, int last) {
        return new Listener(Listener.Kind.KV, first, last);
    }

    record Case(String rule, Node node, KvTransfer kvTransfer, List<Listener> listeners, List<Integer> ports) {
        @Override
        public String toString() {
            return rule;
        }
    }

    static Stream<Case> cases() {
        return Stream.of(
                new Case("an encoder listens on its HTTP port only",
                        node("e0", Role.ENCODER, List.of(0), 23001, 1, 1, null), null,
                        List.of(Listener.http(23001)), List.of(23001)),
                new Case("a pd node listens on its HTTP port only",
                        node("pd0", Role.PD, List.of(0, 1), 33003, 2, 1, null), null,
                        List.of(Listener.http(33003)), List.of(33003)),
                new Case("a prefill node only connects to the KV port",
                        node("p0", Role.PREFILL, List.of(1), 33003, 1, 1, null), KV,
                        List.of(Listener.http(33003)), List.of(33003)),
                new Case("a decode node binds the deployment's KV port for its one rank",
                        node("d0", Role.DECODE, List.of(2), 33006, 1, 1, null), KV,
                        List.of(Listener.http(33006), kv(50001, 50001)), List.of(33006, 50001)),
                new Case("a decode node binds kv_port + dp_rank * tp + tp_rank for every rank (tp 2 x dp 2)",
                        node("d0", Role.DECODE, List.of(4, 5, 6, 7), 33006, 2, 2, null), KV,
                        List.of(Listener.http(33006), kv(50001, 50004)), List.of(33006, 50001, 50002, 50003, 50004)),
                new Case("a decode node's own kv-port wins over the deployment's",
                        node("d1", Role.DECODE, List.of(8, 9), 33007, 2, 1, 40004), KV,
                        List.of(Listener.http(33007), kv(40004, 40005)), List.of(33007, 40004, 40005)),
                new Case("a decode node in a draft without kv-transfer has no KV listener yet",
                        node("d0", Role.DECODE, List.of(2), 33006, 1, 1, null), null,
                        List.of(Listener.http(33006)), List.of(33006)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void listenersAndNpusPerHost(Case c) {
        Footprint footprint = Footprint.of(c.node(), c.kvTransfer());

        assertThat(footprint.name()).isEqualTo(c.node().name());
        assertThat(footprint.placements()).containsExactly(new Placement("npu-a", c.listeners(), c.node().devices(), 0,
                c.node().dataParallelSize()));
        assertThat(footprint.placement().ports()).isEqualTo(c.ports());
        assertThat(footprint.placement().httpPort()).isEqualTo(c.node().port());
        assertThat(footprint.on("npu-a")).hasSize(1);
        assertThat(footprint.on("npu-b")).isEmpty();
    }

    @Test
    void theProxyListensOnItsPortAndHoldsNoNpu() {
        ProxySpec proxy = new ProxySpec("head", 8001, null, "python3", "epdctl", Map.of(), List.of(), Map.of(), RestartPolicy.ON_FAILURE);

        Footprint footprint = Footprint.ofProxy(proxy);

        assertThat(footprint.name()).isEqualTo("proxy");
        assertThat(footprint.placements()).containsExactly(new Placement("head", List.of(Listener.http(8001)), List.of()));
    }

    @Test
    void aFootprintOverSeveralHostsHasNoSinglePlacement() {
        Footprint spread = new Footprint("d0", List.of(
                new Placement("npu-a", List.of(Listener.http(33006)), List.of(0)),
                new Placement("npu-b", List.of(), List.of(0))));

        assertThatThrownBy(spread::placement).hasMessage("d0 runs on 2 hosts, not one");
        assertThat(spread.on("npu-b")).extracting(Placement::npus).containsExactly(List.of(0));
        assertThatThrownBy(() -> spread.on("npu-b").get(0).httpPort()).hasMessage("no HTTP listener on npu-b");
    }

    private static Node group(Role role, int tp, List<Node.RankHost> hosts) {
        int devices = hosts.stream().mapToInt(share -> share.devices().size()).sum();
        return new Node("g0", role, hosts.get(0).host(), hosts.stream().flatMap(share -> share.devices().stream()).toList(),
                33006, tp, devices / tp, null, Map.of(), Map.of(), RestartPolicy.ON_FAILURE, null, hosts, 13389, false);
    }

    @Test
    void aNodeOverSeveralHostsHasAPlacementPerHostWithItsRanks() {
        Footprint footprint = Footprint.of(group(Role.DECODE, 2, List.of(new Node.RankHost("npu-a", List.of(0, 1, 2, 3)),
                new Node.RankHost("npu-b", List.of(4, 5)), new Node.RankHost("npu-c", List.of(0, 1, 2, 3)))), KV);

        assertThat(footprint.placements()).containsExactly(
                new Placement("npu-a", List.of(Listener.http(33006), new Listener(Listener.Kind.DP_RPC, 13389, 13389), kv(50001, 50004)),
                        List.of(0, 1, 2, 3), 0, 2),
                new Placement("npu-b", List.of(kv(50005, 50006)), List.of(4, 5), 2, 1),
                new Placement("npu-c", List.of(kv(50007, 50010)), List.of(0, 1, 2, 3), 3, 2));
        assertThat(footprint.leader().host()).isEqualTo("npu-a");
        assertThat(footprint.placements()).extracting(footprint::processName).containsExactly("g0", "g0-dp2", "g0-dp3");
        assertThat(footprint.placements()).extracting(Placement::servesHttp).containsExactly(true, false, false);
    }

    @Test
    void aPdNodeOverSeveralHostsListensOnHttpAndTheRpcPortOnItsFirstHostOnly() {
        Footprint footprint = Footprint.of(group(Role.PD, 1, List.of(new Node.RankHost("npu-a", List.of(0)),
                new Node.RankHost("npu-b", List.of(0)))), null);

        assertThat(footprint.placements().get(0).ports()).containsExactly(33006, 13389);
        assertThat(footprint.placements().get(1).ports()).isEmpty();
        assertThat(footprint.placements().get(1).dpStartRank()).isEqualTo(1);
    }

    @Test
    void externalDataParallelismHasAPlacementPerRankWithItsOwnPort() {
        Node node = new Node("x0", Role.DECODE, "npu-a", List.of(0, 1, 2, 3, 4, 5), 33006, 2, 3, null, Map.of(), Map.of(),
                RestartPolicy.ON_FAILURE, null, List.of(new Node.RankHost("npu-a", List.of(0, 1, 2, 3)),
                        new Node.RankHost("npu-b", List.of(4, 5))), 13389, true);

        Footprint footprint = Footprint.of(node, KV);

        assertThat(footprint.placements()).containsExactly(
                new Placement("npu-a", List.of(Listener.http(33006), new Listener(Listener.Kind.DP_RPC, 13389, 13389), kv(50001, 50002)),
                        List.of(0, 1), 0, 1),
                new Placement("npu-a", List.of(Listener.http(33007), kv(50003, 50004)), List.of(2, 3), 1, 1),
                new Placement("npu-b", List.of(Listener.http(33008), kv(50005, 50006)), List.of(4, 5), 2, 1));
        assertThat(footprint.serving()).hasSize(3);
        assertThat(footprint.placements()).extracting(footprint::processName).containsExactly("x0", "x0-dp1", "x0-dp2");
    }

    @Test
    void withThePullConnectorAPrefillGroupBindsItsRanksPortsOnEachHost() {
        KvTransfer pull = new KvTransfer(KvTransfer.PULL_CONNECTOR, 50001, null, Map.of());
        Footprint footprint = Footprint.of(group(Role.PREFILL, 1, List.of(new Node.RankHost("npu-a", List.of(0, 1)),
                new Node.RankHost("npu-b", List.of(0)))), pull);

        assertThat(footprint.placements().get(0).listener(Listener.Kind.KV)).contains(kv(50001, 50002));
        assertThat(footprint.placements().get(1).listener(Listener.Kind.KV)).contains(kv(50003, 50003));
        assertThat(Footprint.of(group(Role.DECODE, 1, List.of(new Node.RankHost("npu-a", List.of(0)),
                new Node.RankHost("npu-b", List.of(0)))), pull).placements()).allSatisfy(placement ->
                        assertThat(placement.listener(Listener.Kind.KV)).as("its decoders bind none").isEmpty());
    }

    @Test
    void aListenerCannotEndBeforeItStarts() {
        assertThatThrownBy(() -> new Listener(Listener.Kind.KV, 50002, 50001))
                .hasMessage("listener KV ends (50001) before it starts (50002)");
        assertThat(kv(50001, 50003).ports()).containsExactly(50001, 50002, 50003);
    }
}
