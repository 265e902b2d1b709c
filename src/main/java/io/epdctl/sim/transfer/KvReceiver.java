package io.epdctl.sim.transfer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The decode side: listens on {@code [basePort, basePort + ranks)} as the layerwise connector's ZMQ sockets do
 * (one per dp*tp rank), and hands each pushed KV to the request waiting for it. A push nobody waits for is
 * refused.
 */
public final class KvReceiver implements Closeable {
    private final PortRange ports;
    private final Map<String, CompletableFuture<KvPush>> waiting = new ConcurrentHashMap<>();
    private final AtomicLong received = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();

    /**
     * Binds every port of the range or none: {@code BindException} (Address already in use) as ZMQ does. Each
     * listener queues up to {@code backlog} connections not yet accepted (one push per request comes in).
     */
    public KvReceiver(InetAddress bindAddress, int basePort, int ranks, int backlog) throws IOException {
        ports = PortRange.bind(bindAddress, basePort, ranks, backlog);
        List<ServerSocket> sockets = ports.sockets();
        for (ServerSocket socket : sockets) {
            Thread acceptor = new Thread(() -> acceptLoop(socket), "kv-accept-" + socket.getLocalPort());
            acceptor.setDaemon(true);
            acceptor.start();
        }
    }

    /** Registers interest before the push can arrive (before the metaserver callback is sent). */
    public CompletableFuture<KvPush> expect(String requestId) {
        return waiting.computeIfAbsent(requestId, id -> new CompletableFuture<>());
    }

    public void forget(String requestId) {
        waiting.remove(requestId);
    }

    public long received() {
        return received.get();
    }

    public long refused() {
        return refused.get();
    }

    private void acceptLoop(ServerSocket server) {
        while (!server.isClosed()) {
            try {
                Socket connection = server.accept();
                Thread handler = new Thread(() -> receive(connection), "kv-recv");
                handler.setDaemon(true);
                handler.start();
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void receive(Socket connection) {
        try (connection) {
            InputStream in = connection.getInputStream();
            String line = KvWire.readLine(in);
            if (line == null) {
                return;
            }
            JsonNode header = KvWire.JSON.readTree(line);
            String requestId = header.path("request_id").asText();
            long bytes = header.path("bytes").asLong(-1);
            if (bytes < 0) {
                throw new IOException("push header without a byte count: " + line);
            }
            in.skipNBytes(bytes); // throws on a short stream: a cut transfer is refused
            CompletableFuture<KvPush> waiter = waiting.remove(requestId);
            if (waiter == null) {
                refused.incrementAndGet();
                reply(connection, "ERR no request " + requestId + " is waiting for KV here");
                return;
            }
            received.incrementAndGet();
            reply(connection, "OK");
            waiter.complete(new KvPush(requestId, header.path("engine_id").asText(), bytes));
        } catch (IOException e) {
            refused.incrementAndGet();
        }
    }

    private static void reply(Socket connection, String line) throws IOException {
        connection.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
        connection.getOutputStream().flush();
    }

    @Override
    public void close() {
        ports.close();
    }
}
