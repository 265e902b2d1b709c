package io.epdctl.lifecycle;

import io.epdctl.topology.Host;
import io.epdctl.transport.Transport;
import io.epdctl.transport.TransportException;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One open transport per host of a deployment, opened in parallel. A host that cannot be reached does not
 * stop the work on the others: its failure is kept and reported by whoever needs that host.
 */
public final class HostConnections implements AutoCloseable {

    /** Opens the transport to one host (local or SSH, per the host's settings). */
    @FunctionalInterface
    public interface Opener {
        Transport open(Host host) throws TransportException;
    }

    private final Map<String, Transport> transports;
    private final Map<String, String> failures;

    private HostConnections(Map<String, Transport> transports, Map<String, String> failures) {
        this.transports = transports;
        this.failures = failures;
    }

    public static HostConnections open(Collection<Host> hosts, Opener opener) throws InterruptedException {
        Map<Host, Object> opened = Parallel.map(List.copyOf(hosts), host -> {
            try {
                return opener.open(host);
            } catch (TransportException e) {
                return e;
            }
        });
        Map<String, Transport> transports = new LinkedHashMap<>();
        Map<String, String> failures = new LinkedHashMap<>();
        opened.forEach((host, outcome) -> {
            if (outcome instanceof Transport transport) {
                transports.put(host.name(), transport);
            } else {
                failures.put(host.name(), ((TransportException) outcome).getMessage());
            }
        });
        return new HostConnections(transports, failures);
    }

    public Optional<Transport> transport(String host) {
        return Optional.ofNullable(transports.get(host));
    }

    /** The open transport to {@code host}, or the reason it could not be opened. */
    public Transport require(String host) throws TransportException {
        Transport transport = transports.get(host);
        if (transport == null) {
            throw new TransportException(failures.getOrDefault(host, "host " + host + " is not part of this deployment"));
        }
        return transport;
    }

    /** Hosts that could not be reached, with why. */
    public Map<String, String> failures() {
        return failures;
    }

    @Override
    public void close() {
        transports.values().forEach(Transport::close);
    }
}
