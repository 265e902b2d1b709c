package io.epdctl.proxy;

import io.epdctl.topology.Role;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The backends of one role; picks the least-loaded usable one. The set changes while the proxy runs
 * (the control channel adds and removes backends): every change replaces the list, so an event loop
 * picking reads one consistent list without a lock.
 */
final class BackendPool {
    private final Role role;
    private volatile List<Backend> backends;
    /**
     * Whether requests need this role: it had backends at the start, is the generating role of the
     * proxy's mode, or got one added since. A routed role with no usable backend is unavailable (503),
     * not skipped.
     */
    private volatile boolean routed;
    // rotates the starting point so equally loaded backends take turns
    private final AtomicInteger rotation = new AtomicInteger();

    BackendPool(Role role, List<Endpoint> endpoints, boolean routed) {
        this.role = role;
        this.backends = endpoints.stream().map(endpoint -> new Backend(role, endpoint)).toList();
        this.routed = routed || !backends.isEmpty();
    }

    Role role() {
        return role;
    }

    List<Backend> backends() {
        return backends;
    }

    boolean routed() {
        return routed;
    }

    boolean isEmpty() {
        return backends.isEmpty();
    }

    boolean anyUsable() {
        return backends.stream().anyMatch(Backend::usable);
    }

    Optional<Backend> find(Endpoint endpoint) {
        return backends.stream().filter(backend -> backend.endpoint().equals(endpoint)).findFirst();
    }

    /** Adds a backend at {@code endpoint}; empty when there is one already. */
    synchronized Optional<Backend> add(Endpoint endpoint) {
        if (find(endpoint).isPresent()) {
            return Optional.empty();
        }
        Backend backend = new Backend(role, endpoint);
        List<Backend> next = new ArrayList<>(backends);
        next.add(backend);
        backends = List.copyOf(next);
        routed = true;
        return Optional.of(backend);
    }

    /** Takes the backend out; requests in flight on it go on to their end. Empty when there was none. */
    synchronized Optional<Backend> remove(Endpoint endpoint) {
        Optional<Backend> found = find(endpoint);
        found.ifPresent(backend -> backends = backends.stream().filter(other -> other != backend).toList());
        return found;
    }

    /**
     * The usable backend with the fewest requests in flight, leaving out {@code excluded} and taking one of
     * {@code avoided} only when no other is left; null if none. With {@code drainingToo}, a healthy
     * backend being drained is taken when no other is left (the prefill of a request already admitted).
     */
    Backend pick(Set<Backend> excluded, Set<Backend> avoided, boolean drainingToo) {
        List<Backend> current = backends;
        Backend best = pick(current, excluded, avoided, false);
        return best == null && drainingToo ? pick(current, excluded, avoided, true) : best;
    }

    private Backend pick(List<Backend> current, Set<Backend> excluded, Set<Backend> avoided, boolean draining) {
        int size = current.size();
        int start = Math.floorMod(rotation.getAndIncrement(), Math.max(size, 1));
        Backend best = null;
        for (int i = 0; i < size; i++) {
            Backend candidate = current.get((start + i) % size);
            boolean eligible = draining ? candidate.healthy() : candidate.usable();
            if (eligible && !excluded.contains(candidate) && (best == null || better(candidate, best, avoided))) {
                best = candidate;
            }
        }
        return best;
    }

    private static boolean better(Backend candidate, Backend best, Set<Backend> avoided) {
        boolean candidateAvoided = avoided.contains(candidate);
        if (candidateAvoided != avoided.contains(best)) {
            return !candidateAvoided;
        }
        return candidate.inFlight() < best.inFlight();
    }
}
