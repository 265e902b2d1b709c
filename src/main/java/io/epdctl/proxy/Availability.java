package io.epdctl.proxy;

import java.util.ArrayList;
import java.util.List;

/**
 * Whether a request finds a usable backend in every role it needs, decided before any backend holds part
 * of it. A role without one (all down, all draining, or every backend removed) answers 503 with
 * Retry-After: the deployment is changing or recovering, and the client may try again shortly.
 */
final class Availability {
    private Availability() {
    }

    /**
     * The failure for a request that needs {@code encoder} (null when it needs none) and then all of
     * {@code generating}; null when every one of them has a usable backend.
     */
    static ProxyFailure unavailable(BackendPool encoder, List<BackendPool> generating, long retryAfterSeconds) {
        List<BackendPool> needed = new ArrayList<>();
        if (encoder != null) {
            needed.add(encoder);
        }
        needed.addAll(generating);
        for (BackendPool pool : needed) {
            if (!pool.anyUsable()) {
                return noUsableBackend(pool, retryAfterSeconds);
            }
        }
        return null;
    }

    /** 503 naming the role and why each of its backends cannot take the request. */
    static ProxyFailure noUsableBackend(BackendPool pool, long retryAfterSeconds) {
        List<String> why = new ArrayList<>();
        for (Backend backend : pool.backends()) {
            why.add(backend.endpoint() + " (" + (backend.draining() ? "draining" : backend.healthProblem()) + ")");
        }
        String role = pool.role().yamlName();
        return ProxyFailure.unavailable(why.isEmpty() ? "no " + role + " backend: every one was removed"
                : "no healthy " + role + " backend: " + String.join(", ", why), retryAfterSeconds);
    }
}
