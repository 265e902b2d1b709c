package io.epdctl.topology;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A validated deployment: what {@code epdctl validate} accepted. {@code kvTransfer} is null without P/D nodes. */
public record Topology(
        String name,
        String model,
        String servedModelName,
        Map<String, Host> hosts,
        VllmSettings vllm,
        EcTransfer ecTransfer,
        KvTransfer kvTransfer,
        List<Node> nodes,
        ProxySpec proxy) {

    public List<Node> nodes(Role role) {
        return nodes.stream().filter(node -> node.role() == role).toList();
    }

    public Host hostOf(Node node) {
        return hosts.get(node.host());
    }

    /** Separate prefill and decode instances (rather than combined PD): the KV hand-off is in play. */
    public boolean isDisaggregated() {
        return nodes.stream().anyMatch(node -> node.role() == Role.PREFILL || node.role() == Role.DECODE);
    }

    /** The node's ports and NPUs per host; see {@link Footprint#of}. */
    public Footprint footprint(Node node) {
        return Footprint.of(node, kvTransfer);
    }

    /** Every node's footprint in file order, then the proxy's. */
    public List<Footprint> footprints() {
        List<Footprint> all = new ArrayList<>(nodes.stream().map(this::footprint).toList());
        all.add(Footprint.ofProxy(proxy));
        return all;
    }
}
