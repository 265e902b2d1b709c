package io.epdctl.proxy;

import io.epdctl.topology.Role;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * One vLLM node behind the proxy: its health as last probed (or as a failed connection showed) and
 * its counters. Shared by every event loop, hence atomics.
 */
public final class Backend {
    /** Upper bounds (seconds) of the latency histogram buckets exported in /metrics. */
    static final double[] LATENCY_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

    private final Role role;
    private final Endpoint endpoint;
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean healthy;
    private volatile String healthProblem = "not probed yet";
    /** When it stopped being healthy after it had been (System.nanoTime()); 0 while healthy or never healthy yet. */
    private volatile long unhealthySinceNanos;
    /** Health probes in a row that got no answer in time, while it was healthy. */
    private final AtomicInteger probeTimeouts = new AtomicInteger();
    /** Being drained (control channel): no new requests, those in flight finish. */
    private volatile boolean draining;
    private final LongAdder requests = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final LongAdder latencyNanos = new LongAdder();
    private final LongAdder[] latencyBuckets = new LongAdder[LATENCY_BUCKETS.length];

    Backend(Role role, Endpoint endpoint) {
        this.role = role;
        this.endpoint = endpoint;
        for (int i = 0; i < latencyBuckets.length; i++) {
            latencyBuckets[i] = new LongAdder();
        }
    }

    public Role role() {
        return role;
    }

    public Endpoint endpoint() {
        return endpoint;
    }

    public boolean healthy() {
        return healthy;
    }

    public boolean draining() {
        return draining;
    }

    void drain() {
        draining = true;
    }

    /** Takes new requests: healthy and not being drained. */
    boolean usable() {
        return healthy && !draining;
    }

    /** Why it is not healthy (null when it is). */
    public String healthProblem() {
        return healthProblem;
    }

    /**
     * How long it has been unhealthy after it had been healthy, or null while it is healthy or has not been yet (a node
     * still loading).
     */
    public java.time.Duration unhealthyFor() {
        long since = unhealthySinceNanos;
        return healthy || since == 0 ? null : java.time.Duration.ofNanos(System.nanoTime() - since);
    }

    /** Returns true when this changed the state, so transitions can be logged once. */
    boolean markHealthy() {
        boolean changed = !healthy;
        healthy = true;
        healthProblem = null;
        unhealthySinceNanos = 0;
        probeTimeouts.set(0);
        return changed;
    }

    boolean markDown(String problem) {
        boolean changed = healthy || !problem.equals(healthProblem);
        if (healthy) {
            unhealthySinceNanos = System.nanoTime();
        }
        healthy = false;
        healthProblem = problem;
        return changed;
    }

    /**
     * A health probe got no answer in time: returns whether that takes it out. A healthy backend stays in on its
     * first timeout (one slow answer under load is no failure); the second in a row takes it out.
     */
    boolean probeTimedOut() {
        return !healthy || probeTimeouts.incrementAndGet() >= 2;
    }

    int inFlight() {
        return inFlight.get();
    }

    void started() {
        inFlight.incrementAndGet();
        requests.increment();
    }

    /** Ends one exchange started with {@link #started()}; called exactly once per exchange. */
    void finished(long startNanos, boolean failed) {
        inFlight.decrementAndGet();
        if (failed) {
            errors.increment();
        }
        long nanos = System.nanoTime() - startNanos;
        latencyNanos.add(nanos);
        double seconds = nanos / 1e9;
        for (int i = 0; i < LATENCY_BUCKETS.length; i++) {
            if (seconds <= LATENCY_BUCKETS[i]) {
                latencyBuckets[i].increment();
                break;
            }
        }
    }

    long requests() {
        return requests.sum();
    }

    long errors() {
        return errors.sum();
    }

    double latencySeconds() {
        return latencyNanos.sum() / 1e9;
    }

    /** Cumulative counts per bucket, as Prometheus histograms want them. */
    long[] cumulativeBuckets() {
        long[] counts = new long[latencyBuckets.length];
        long total = 0;
        for (int i = 0; i < latencyBuckets.length; i++) {
            total += latencyBuckets[i].sum();
            counts[i] = total;
        }
        return counts;
    }

    @Override
    public String toString() {
        return role.yamlName() + " " + endpoint;
    }
}
