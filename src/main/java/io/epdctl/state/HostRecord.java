package io.epdctl.state;

/**
 * A host of the deployment as the state keeps it: enough to reach it again for {@code status},
 * {@code down} and {@code logs} when the topology file changed or is gone. {@code local} hosts are run
 * through {@code /bin/sh} on this machine; the others over SSH, with the login settings the topology gave
 * (each null when it gave none).
 */
public record HostRecord(
        String name,
        String address,
        boolean local,
        String user,
        Integer sshPort,
        String identityFile) {
}
