package io.epdctl.topology;

import java.util.List;
import java.util.stream.IntStream;

/**
 * Ports one process listens on, {@code first} to {@code last} inclusive. A decode node's KV listener has
 * one port per rank: rank (dp_rank, tp_rank) binds {@code first + dp_rank * tp + tp_rank}.
 */
public record Listener(Kind kind, int first, int last) {

    /**
     * What listens: the node's (or the proxy's) HTTP server, the KV connector's ZMQ sockets, or (on the first host of a
     * node over several hosts) the data-parallel RPC port the other hosts' ranks connect to.
     */
    public enum Kind { HTTP, KV, DP_RPC }

    public Listener {
        if (last < first) {
            throw new IllegalArgumentException("listener " + kind + " ends (" + last + ") before it starts (" + first + ")");
        }
    }

    public static Listener http(int port) {
        return new Listener(Kind.HTTP, port, port);
    }

    public List<Integer> ports() {
        return IntStream.rangeClosed(first, last).boxed().toList();
    }
}
