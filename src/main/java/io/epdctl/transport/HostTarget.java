package io.epdctl.transport;

/**
 * A host as the transport needs it: its name (for messages and for looking its connection up), the
 * address to reach it at, whether commands run on this machine, and the SSH login settings the operator
 * gave (each optional: the ssh_config files and OpenSSH's defaults fill in the rest, see {@link SshTarget}).
 */
public record HostTarget(
        String name,
        String address,
        boolean local,
        String user,
        Integer sshPort,
        String identityFile) {

    /** A host whose commands run through {@code /bin/sh} on this machine. */
    public static HostTarget local(String name, String address) {
        return new HostTarget(name, address, true, null, null, null);
    }
}
