package io.epdctl.transport;

/**
 * A way from this machine to a TCP port on a host's loopback: connections to {@link #localPort()} on
 * 127.0.0.1 here reach that port there. Closing it ends the way (connections already made may end too).
 */
public interface Tunnel extends AutoCloseable {
    int localPort();

    @Override
    void close();
}
