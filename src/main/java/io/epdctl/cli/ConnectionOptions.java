package io.epdctl.cli;

import io.epdctl.lifecycle.HostConnections;
import io.epdctl.topology.Host;
import io.epdctl.transport.LocalTransport;
import io.epdctl.transport.TransportException;
import java.util.Collection;
import picocli.CommandLine.Option;

/** How epdctl reaches the hosts: the SSH settings every command that touches hosts shares. */
public final class ConnectionOptions {
    @Option(names = "--accept-new-host-keys",
            description = "Add the keys of SSH hosts not yet in known_hosts (a changed key is always refused).")
    boolean acceptNewHostKeys;

    /** Opens one transport per host, all at once; unreachable hosts are reported by the caller. */
    public HostConnections open(Collection<Host> hosts) {
        try {
            return HostConnections.open(hosts, this::openOne);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UserException(ExitCodes.FAILURE, "interrupted while connecting to the hosts");
        }
    }

    private io.epdctl.transport.Transport openOne(Host host) throws TransportException {
        if (host.isLocal()) {
            return new LocalTransport(host.name());
        }
        throw new TransportException(host.name() + ": the SSH transport is not available in this build");
    }
}
