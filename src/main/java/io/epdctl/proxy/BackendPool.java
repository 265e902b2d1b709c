package io.epdctl.proxy;

import io.epdctl.topology.Role;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/** The backends of one role; picks the least-loaded healthy one. */
final class BackendPool {
    private final Role role;
    private final List<Backend> backends;
    // rotates the starting point so equally loaded backends take turns
    private final AtomicInteger rotation = new AtomicInteger();

    BackendPool(Role role, List<Endpoint> endpoints) {
        this.role = role;
        this.backends = endpoints.stream().map(endpoint -> new Backend(role, endpoint)).toList();
    }

    Role role() {
        return role;
    }

    List<Backend> backends() {
        return backends;
    }

    boolean isEmpty() {
        return backends.isEmpty();
    }

    boolean anyHealthy() {
        return backends.stream().anyMatch(Backend::healthy);
    }

    /** The healthy backend with the fewest requests in flight, not among {@code tried}; null if none. */
    Backend pick(Set<Backend> tried) {
        int size = backends.size();
        int start = Math.floorMod(rotation.getAndIncrement(), Math.max(size, 1));
        Backend best = null;
        for (int i = 0; i < size; i++) {
            Backend candidate = backends.get((start + i) % size);
            if (candidate.healthy() && !tried.contains(candidate)
                    && (best == null || candidate.inFlight() < best.inFlight())) {
                best = candidate;
            }
        }
        return best;
    }
}
