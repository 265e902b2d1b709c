package io.epdctl.sim.transfer;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/** A node's range of KV ports, one listener per rank, bound as ZMQ binds them: every port or none. */
final class PortRange implements Closeable {
    private final List<ServerSocket> sockets;

    private PortRange(List<ServerSocket> sockets) {
        this.sockets = List.copyOf(sockets);
    }

    /**
     * Listeners on {@code basePort} to {@code basePort + count - 1} of {@code address}, each queueing up to
     * {@code backlog} connections not yet accepted; when one cannot be bound ({@code BindException}: Address already in
     * use), those bound before it are closed and the exception is thrown.
     */
    static PortRange bind(InetAddress address, int basePort, int count, int backlog) throws IOException {
        List<ServerSocket> sockets = new ArrayList<>();
        try {
            for (int rank = 0; rank < count; rank++) {
                ServerSocket socket = new ServerSocket();
                sockets.add(socket);
                socket.bind(new InetSocketAddress(address, basePort + rank), backlog);
            }
            return new PortRange(sockets);
        } catch (IOException e) {
            new PortRange(sockets).close();
            throw e;
        }
    }

    /** The listeners, rank by rank. */
    List<ServerSocket> sockets() {
        return sockets;
    }

    @Override
    public void close() {
        for (ServerSocket socket : sockets) {
            try {
                socket.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }
}
