package io.epdctl.topology;

import java.util.ArrayList;
import java.util.List;

/**
 * What one node, or the proxy, takes from the machines, per host: the one derivation of ports and NPUs
 * that validation, {@code check}, the plan of {@code up} and the rendered launch all read. Today every
 * node runs on one host; a data-parallel group across hosts, one process per rank, extends this function,
 * and its users follow (as they did for the pull connector, whose prefill side binds).
 */
public record Footprint(String name, List<Placement> placements) {

    public Footprint {
        placements = List.copyOf(placements);
    }

    /**
     * A node's footprint. Works on a validator's draft too: {@code kvTransfer} may be null there, and the
     * node's host need not exist (the placement only names it).
     *
     * <p>Only one side of the KV hand-off binds, one ZMQ socket per rank at {@code kv_port + dp_rank * tp +
     * tp_rank}, so a node of that side listens on {@code [kv_port, kv_port + tp * dp)}, from its own
     * {@code kv-port} or else the deployment's; the other side only connects. MooncakeLayerwiseConnector: the
     * decode side (the prefiller pushes to it). MooncakeConnectorV1: the prefill side, whose KVCacheSendingThread
     * binds the handshake socket the decoder pulls through; its decoders bind no port of their own (the
     * transfer engine's ports are random, in its own range). See {@link KvFlow#bindingRole()}.
     */
    public static Footprint of(Node node, KvTransfer kvTransfer) {
        List<Listener> listeners = new ArrayList<>();
        listeners.add(Listener.http(node.port()));
        if (kvTransfer != null && node.role() == kvTransfer.flow().bindingRole()) {
            int first = node.kvPort() != null ? node.kvPort() : kvTransfer.kvPort();
            listeners.add(new Listener(Listener.Kind.KV, first, first + node.ranks() - 1));
        }
        return new Footprint(node.name(), List.of(new Placement(node.host(), listeners, node.devices())));
    }

    /** The proxy listens on its port and holds no NPU. */
    public static Footprint ofProxy(ProxySpec proxy) {
        return new Footprint("proxy", List.of(new Placement(proxy.host(), List.of(Listener.http(proxy.port())), List.of())));
    }

    /**
     * The placement of a process that runs on one host, which every node and the proxy is today (one
     * process per node); a footprint over several hosts has to be launched per placement.
     */
    public Placement placement() {
        if (placements.size() != 1) {
            throw new IllegalStateException(name + " runs on " + placements.size() + " hosts, not one");
        }
        return placements.get(0);
    }

    /** The placements on {@code host} (none when the node does not run there). */
    public List<Placement> on(String host) {
        return placements.stream().filter(placement -> placement.host().equals(host)).toList();
    }
}
