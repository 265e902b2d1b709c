package io.epdctl.topology;

import java.util.List;
import java.util.Optional;

/**
 * What a node (or the proxy) holds on one host: the ports it listens on there and the NPUs it uses there, and the
 * data-parallel ranks it runs there: {@code dpLocalSize} of them from {@code dpStartRank} (a node on one host runs all
 * its ranks from 0; the proxy one).
 */
public record Placement(String host, List<Listener> listeners, List<Integer> npus, int dpStartRank, int dpLocalSize) {

    public Placement {
        listeners = List.copyOf(listeners);
        npus = List.copyOf(npus);
    }

    /** A placement of a single process running every rank (the proxy, a node without data parallelism). */
    public Placement(String host, List<Listener> listeners, List<Integer> npus) {
        this(host, listeners, npus, 0, 1);
    }

    /** Whether HTTP is served here: not by the headless ranks of a node over several hosts. */
    public boolean servesHttp() {
        return listener(Listener.Kind.HTTP).isPresent();
    }

    public Optional<Listener> listener(Listener.Kind kind) {
        return listeners.stream().filter(listener -> listener.kind() == kind).findFirst();
    }

    /** The HTTP port; every process epdctl starts serves HTTP. */
    public int httpPort() {
        return listener(Listener.Kind.HTTP).orElseThrow(() -> new IllegalStateException("no HTTP listener on " + host))
                .first();
    }

    /** Every port listened on here, in listener order (the HTTP port first). */
    public List<Integer> ports() {
        return listeners.stream().flatMap(listener -> listener.ports().stream()).toList();
    }
}
