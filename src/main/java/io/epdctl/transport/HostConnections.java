package io.epdctl.transport;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * One open {@link Transport} per host of a deployment, opened in parallel: {@link LocalTransport} for
 * local hosts, {@link SshTransport} for the rest. A host that cannot be reached is remembered with
 * the reason, so that work on the other hosts goes on and the caller can report it.
 */
public final class HostConnections implements AutoCloseable {
    private final Map<String, Transport> open;
    private final Map<String, TransportException> failed;

    private HostConnections(Map<String, Transport> open, Map<String, TransportException> failed) {
        this.open = open;
        this.failed = failed;
    }

    /** Connects to every host at once; returns when each has connected or failed. */
    public static HostConnections open(Collection<HostTarget> hosts, SshOptions options) throws InterruptedException {
        Map<String, Transport> open = new LinkedHashMap<>();
        Map<String, TransportException> failed = new LinkedHashMap<>();
        if (hosts.isEmpty()) {
            return new HostConnections(open, failed);
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(hosts.size(), 32), runnable -> {
            Thread thread = new Thread(runnable, "epdctl-connect");
            thread.setDaemon(true);
            return thread;
        });
        try {
            Map<HostTarget, Future<Transport>> pending = new LinkedHashMap<>();
            for (HostTarget host : hosts) {
                pending.put(host, pool.submit(() -> connect(host, options)));
            }
            for (Map.Entry<HostTarget, Future<Transport>> entry : pending.entrySet()) {
                String name = entry.getKey().name();
                try {
                    open.put(name, entry.getValue().get());
                } catch (ExecutionException e) {
                    failed.put(name, e.getCause() instanceof TransportException t ? t
                            : new TransportException(name + ": cannot connect: " + e.getCause(), e.getCause()));
                }
            }
        } catch (InterruptedException e) {
            pool.shutdownNow();
            open.values().forEach(Transport::close);
            throw e;
        } finally {
            pool.shutdown();
        }
        return new HostConnections(open, failed);
    }

    private static Transport connect(HostTarget host, SshOptions options) throws TransportException {
        return host.local() ? new LocalTransport(host.name()) : SshTransport.connect(host, options);
    }

    /** The host's transport, or empty when it could not be reached (see {@link #failure}). */
    public Optional<Transport> transport(String host) {
        return Optional.ofNullable(open.get(host));
    }

    /** The host's transport; throws why it could not be reached. */
    public Transport require(String host) throws TransportException {
        Transport transport = open.get(host);
        if (transport != null) {
            return transport;
        }
        TransportException failure = failed.get(host);
        throw failure != null ? failure : new TransportException(host + ": not a host of this deployment");
    }

    public Optional<TransportException> failure(String host) {
        return Optional.ofNullable(failed.get(host));
    }

    /** The hosts that could not be reached, in the order given, with why. */
    public Map<String, TransportException> failures() {
        return Collections.unmodifiableMap(failed);
    }

    /** Closes every connection; commands started detached on the hosts keep running. */
    @Override
    public void close() {
        List<Transport> transports = new ArrayList<>(open.values());
        transports.forEach(Transport::close);
    }
}
