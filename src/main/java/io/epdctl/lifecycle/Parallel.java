package io.epdctl.lifecycle;

import io.epdctl.transport.TransportException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;

/**
 * Runs one task per item at once, each on its own thread: the items are hosts or nodes, a few dozen at
 * most, and each task mostly waits on the network.
 */
final class Parallel {
    private Parallel() {
    }

    /** The result of {@code task} for every item, in the items' order. Exceptions belong in the result type. */
    static <T, R> Map<T, R> map(List<T> items, Function<T, R> task) throws InterruptedException {
        if (items.isEmpty()) {
            return Map.of();
        }
        ExecutorService threads = Executors.newFixedThreadPool(items.size(), runnable -> {
            Thread thread = new Thread(runnable, "epdctl-parallel");
            thread.setDaemon(true);
            return thread;
        });
        try {
            List<Future<R>> futures = new ArrayList<>();
            for (T item : items) {
                futures.add(threads.submit(() -> task.apply(item)));
            }
            Map<T, R> results = new LinkedHashMap<>();
            for (int i = 0; i < items.size(); i++) {
                try {
                    results.put(items.get(i), futures.get(i).get());
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof Interrupted interrupted) {
                        throw interrupted.interrupt;
                    }
                    // A task threw an unchecked exception: a bug, not an outcome.
                    throw new IllegalStateException("task for " + items.get(i) + " failed", e.getCause());
                }
            }
            return results;
        } finally {
            threads.shutdownNow();
        }
    }

    /** A task that works on a host, and may not reach it. */
    @FunctionalInterface
    interface HostTask<T, R> {
        R apply(T item) throws TransportException;
    }

    /**
     * Like {@link #map}, for tasks that work on hosts: every task runs to its end, then the first failure,
     * in the items' order, is thrown.
     */
    static <T, R> Map<T, R> mapOnHosts(List<T> items, HostTask<T, R> task) throws TransportException, InterruptedException {
        Map<T, Object> outcomes = map(items, item -> {
            try {
                return task.apply(item);
            } catch (TransportException e) {
                return e;
            }
        });
        Map<T, R> results = new LinkedHashMap<>();
        for (Map.Entry<T, Object> outcome : outcomes.entrySet()) {
            if (outcome.getValue() instanceof TransportException failure) {
                throw failure;
            }
            @SuppressWarnings("unchecked")
            R result = (R) outcome.getValue();
            results.put(outcome.getKey(), result);
        }
        return results;
    }

    /** Carries a task's interrupt out of its thread, for {@link #map} to throw it as it came. */
    private static final class Interrupted extends RuntimeException {
        final InterruptedException interrupt;

        Interrupted(InterruptedException interrupt) {
            super(interrupt);
            this.interrupt = interrupt;
        }
    }

    /** The results of two tasks run at once; a task that was interrupted makes this throw the interrupt. */
    record Both<A, B>(A first, B second) {
    }

    static <A, B> Both<A, B> both(Callable<A> first, Callable<B> second) throws InterruptedException {
        Map<Integer, Object> results = map(List.of(0, 1), index -> {
            try {
                return index == 0 ? first.call() : second.call();
            } catch (InterruptedException e) {
                throw new Interrupted(e);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        @SuppressWarnings("unchecked")
        Both<A, B> both = new Both<>((A) results.get(0), (B) results.get(1));
        return both;
    }
}
