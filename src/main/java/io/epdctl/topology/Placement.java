package io.epdctl.topology;

import java.util.List;
import java.util.Optional;

/** What a node (or the proxy) holds on one host: the ports it listens on there and the NPUs it uses there. */
public record Placement(String host, List<Listener> listeners, List<Integer> npus) {

    public Placement {
        listeners = List.copyOf(listeners);
        npus = List.copyOf(npus);
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
