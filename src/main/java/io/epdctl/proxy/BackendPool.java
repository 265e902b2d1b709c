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

    /**
     * The healthy backend with the fewest requests in flight, leaving out {@code excluded} and taking one of
     * {@code avoided} only when no other is left; null if none.
     */
    Backend pick(Set<Backend> excluded, Set<Backend> avoided) {
        int size = backends.size();
        int start = Math.floorMod(rotation.getAndIncrement(), Math.max(size, 1));
        Backend best = null;
        for (int i = 0; i < size; i++) {
            Backend candidate = backends.get((start + i) % size);
            if (candidate.healthy() && !excluded.contains(candidate) && (best == null || better(candidate, best, avoided))) {
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
