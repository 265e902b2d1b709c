package io.epdctl.topology;

import java.util.ArrayList;
import java.util.List;

/**
 * What one node, or the proxy, takes from the machines, per host: the one derivation of ports and NPUs
 * that validation, {@code check}, the plan of {@code up} and the rendered launch all read: one placement per host a
 * node runs on (a data-parallel group across hosts has several; external data parallelism one per rank), each with
 * its ranks. Its users follow it (as they did for the pull connector, whose prefill side binds).
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
     *
     * <p>A node over several hosts (internal DP) has one placement per host, in the file's order: each runs
     * {@code devices / tp} ranks, numbered on from the host before (the start rank); the first serves HTTP and listens
     * on the data-parallel RPC port for the others; a binding node's KV ports are those of the ranks each host runs.
     */
    public static Footprint of(Node node, KvTransfer kvTransfer) {
        if (node.dataParallelExternal() && node.dataParallelSize() > 1) {
            return external(node, kvTransfer);
        }
        List<Placement> placements = new ArrayList<>();
        int tp = Math.max(1, node.tensorParallelSize());
        int rank = 0;
        for (int i = 0; i < node.rankHosts().size(); i++) {
            Node.RankHost share = node.rankHosts().get(i);
            int local = node.spansHosts() ? Math.max(1, share.devices().size() / tp) : node.dataParallelSize();
            List<Listener> listeners = new ArrayList<>();
            if (i == 0) {
                listeners.add(Listener.http(node.port()));
                if (node.spansHosts() && node.dataParallelRpcPort() != null) {
                    listeners.add(new Listener(Listener.Kind.DP_RPC, node.dataParallelRpcPort(), node.dataParallelRpcPort()));
                }
            }
            if (binds(node, kvTransfer)) {
                int first = (node.kvPort() != null ? node.kvPort() : kvTransfer.kvPort()) + rank * tp;
                listeners.add(new Listener(Listener.Kind.KV, first, first + local * tp - 1));
            }
            placements.add(new Placement(share.host(), listeners, share.devices(), rank, local));
            rank += local;
        }
        return new Footprint(node.name(), placements);
    }

    /**
     * External data parallelism (vLLM's external load balancing, as vLLM-Ascend's launch_online_dp.py runs it): one
     * process per rank, each with its own API server, on the node's hosts in order, {@code tp} NPUs each. Rank R serves
     * HTTP on {@code port + R} (numbered over the whole group, so that ranks on hosts of one machine never meet); rank 0
     * also listens on the RPC port the others join at; a decode rank binds the KV ports of its rank.
     */
    private static Footprint external(Node node, KvTransfer kvTransfer) {
        List<Placement> placements = new ArrayList<>();
        int tp = Math.max(1, node.tensorParallelSize());
        int rank = 0;
        for (Node.RankHost share : node.rankHosts()) {
            for (int first = 0; first + tp <= share.devices().size(); first += tp, rank++) {
                List<Listener> listeners = new ArrayList<>();
                listeners.add(Listener.http(node.port() + rank));
                if (rank == 0 && node.dataParallelRpcPort() != null) {
                    listeners.add(new Listener(Listener.Kind.DP_RPC, node.dataParallelRpcPort(), node.dataParallelRpcPort()));
                }
                if (binds(node, kvTransfer)) {
                    int kv = (node.kvPort() != null ? node.kvPort() : kvTransfer.kvPort()) + rank * tp;
                    listeners.add(new Listener(Listener.Kind.KV, kv, kv + tp - 1));
                }
                placements.add(new Placement(share.host(), listeners, share.devices().subList(first, first + tp), rank, 1));
            }
        }
        return new Footprint(node.name(), placements);
    }

    /** Whether the node is of the side of the KV hand-off that binds its ports (see {@link KvFlow#bindingRole()}). */
    private static boolean binds(Node node, KvTransfer kvTransfer) {
        return kvTransfer != null && node.role() == kvTransfer.flow().bindingRole();
    }

    /** The proxy listens on its port and holds no NPU. */
    public static Footprint ofProxy(ProxySpec proxy) {
        return new Footprint("proxy", List.of(new Placement(proxy.host(), List.of(Listener.http(proxy.port())), List.of())));
    }

    /**
     * The placement of a process that runs on one host (the proxy, a node without {@code hosts}); a footprint over
     * several hosts is launched per placement.
     */
    public Placement placement() {
        if (placements.size() != 1) {
            throw new IllegalStateException(name + " runs on " + placements.size() + " hosts, not one");
        }
        return placements.get(0);
    }

    /**
     * The first placement: of a node over several hosts the one that serves HTTP (the proxy's backend), of external data
     * parallelism rank 0 (where the others join).
     */
    public Placement leader() {
        return placements.get(0);
    }

    /**
     * The name of the process that runs {@code placement}: the node's own on its first host (it serves HTTP, the state,
     * {@code status} and {@code logs} name it so), {@code NAME-dpR} on another, R being the first rank it runs there.
     */
    public String processName(Placement placement) {
        return placement == placements.get(0) ? name : name + "-dp" + placement.dpStartRank();
    }

    /** The placements that serve HTTP, in order: the proxy's backends of the node (one, or one per rank of external DP). */
    public List<Placement> serving() {
        return placements.stream().filter(Placement::servesHttp).toList();
    }

    /** The placements on {@code host} (none when the node does not run there). */
    public List<Placement> on(String host) {
        return placements.stream().filter(placement -> placement.host().equals(host)).toList();
    }
}
