package io.epdctl.topology;

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

    /** First port of the decode node's KV range: its own kv-port, else the deployment's. */
    public int kvPortOf(Node node) {
        return node.kvPort() != null ? node.kvPort() : kvTransfer.kvPort();
    }
}
