package io.epdctl.sim.transfer;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/** A node's range of KV ports, one per rank, bound as ZMQ binds them: every port or none. */
final class PortRange {
    private PortRange() {
    }

    /**
     * Listeners on {@code basePort} to {@code basePort + count - 1} of {@code address}, each queueing up to
     * {@code backlog} connections not yet accepted; when one cannot be bound ({@code BindException}: Address already in
     * use), those bound before it are closed and the exception is thrown.
     */
    static List<ServerSocket> bind(InetAddress address, int basePort, int count, int backlog) throws IOException {
        List<ServerSocket> sockets = new ArrayList<>();
        try {
            for (int rank = 0; rank < count; rank++) {
                ServerSocket socket = new ServerSocket();
                sockets.add(socket);
                socket.bind(new InetSocketAddress(address, basePort + rank), backlog);
            }
            return sockets;
        } catch (IOException e) {
            for (ServerSocket socket : sockets) {
                try {
                    socket.close();
                } catch (IOException ignored) {
                    // closing what could not be used
                }
            }
            throw e;
        }
    }
}
