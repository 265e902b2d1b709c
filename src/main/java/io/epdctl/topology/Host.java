package io.epdctl.topology;

import java.util.Locale;

/**
 * A machine nodes run on. {@code address} is how epdctl and the other nodes reach it; {@code npus}
 * (optional) is how many NPUs it has, which bounds device ids and the Mooncake port range.
 */
public record Host(
        String name,
        String address,
        TransportKind transport,
        String user,
        Integer sshPort,
        String identityFile,
        Integer npus) {

    /** How epdctl runs commands there. */
    public enum TransportKind { LOCAL, SSH }

    public boolean isLocal() {
        return transport == TransportKind.LOCAL;
    }

    /**
     * Names the physical machine, for the checks that two listeners or two nodes do not share a port
     * or an NPU: every loopback or locally launched host is this machine, whatever it is called.
     */
    public String machine() {
        return isLocal() || Addresses.isLoopback(address) ? "this machine" : address.toLowerCase(Locale.ROOT);
    }
}
