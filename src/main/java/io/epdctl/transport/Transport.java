package io.epdctl.transport;

import java.io.OutputStream;
import java.time.Duration;

/**
 * Runs shell commands on one host. The lifecycle is written once against this interface; the local
 * and SSH transports differ only in how a command reaches {@code /bin/sh} on the host.
 * Commands are shell text: callers quote every value with {@link io.epdctl.shell.Shell}.
 */
public interface Transport extends AutoCloseable {

    /** The host's name in the topology, for messages. */
    String host();

    /**
     * Runs {@code command} with {@code /bin/sh -c} on the host, feeds it {@code stdin}, and waits for
     * it to end. Past {@code timeout} the command is abandoned (killed where the transport can) and
     * a {@link TransportException} is thrown. A non-zero exit is a result, not an exception.
     */
    CommandResult run(String command, byte[] stdin, Duration timeout) throws TransportException;

    default CommandResult run(String command, Duration timeout) throws TransportException {
        return run(command, new byte[0], timeout);
    }

    /**
     * Runs {@code command}, copying its output to {@code out} and {@code err} as it arrives, until it
     * ends (returns its exit code) or the calling thread is interrupted (stops it, then throws).
     */
    int stream(String command, OutputStream out, OutputStream err) throws TransportException, InterruptedException;

    /**
     * A way to {@code port} on the host's 127.0.0.1, which only the host itself may reach (a loopback-only
     * listener such as the built-in proxy's control channel): on this machine directly, over SSH as a
     * local port forward on the host's connection.
     */
    Tunnel tunnel(int port) throws TransportException;

    /** Releases the connection; commands started detached on the host keep running. */
    @Override
    void close();
}
