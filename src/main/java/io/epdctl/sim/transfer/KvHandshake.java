package io.epdctl.sim.transfer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The prefill side of MooncakeConnectorV1 (pull mode): one handshake listener per dp*tp rank on
 * {@code [basePort, basePort + ranks)}, as its KVCacheSendingThreads bind them, and the KV of each finished
 * prefill held until its decoder has pulled it from every tensor-parallel rank of the data-parallel rank that
 * computed it (the simulator computes every request on the first, whose ports are {@code [basePort, basePort +
 * tp)}), or until the abort timeout frees it
 * (VLLM_MOONCAKE_ABORT_REQUEST_TIMEOUT). A pull of a request not held here (never prefilled, already pulled,
 * expired) or under another engine id is refused, as the real transfer then fails.
 *
 * <p>Wire (the simulator's stand-in for the ZMQ handshake and the transfer engine's read): one line
 * {@code {"op":"pull","request_id","engine_id"}}, answered by {@code {"bytes":N}} and N bytes of the rank's share,
 * or one line {@code ERR <reason>}.
 */
public final class KvHandshake implements Closeable {
    private final String engineId;
    private final int basePort;
    private final PortRange ports;
    /** The tensor-parallel ranks a request's KV is split over, each pulled through its own port. */
    private final int tpRanks;
    private final Map<String, Held> held = new ConcurrentHashMap<>();
    private final long abortTimeoutMillis;
    private final LongSupplier clock;
    private final AtomicLong served = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong expired = new AtomicLong();

    /** A prefilled request's KV: its size and the ranks whose share has not been pulled yet. */
    private record Held(long bytes, Set<Integer> ranksLeft, long deadlineMillis) {
    }

    /**
     * Binds every port of the range or none ({@code BindException}: Address already in use, as ZMQ's bind).
     * {@code clock} gives milliseconds (System::currentTimeMillis outside tests).
     */
    public KvHandshake(InetAddress bindAddress, int basePort, int tpRanks, int dpRanks, int backlog, String engineId,
            long abortTimeoutMillis, LongSupplier clock) throws IOException {
        int ranks = tpRanks * dpRanks;
        this.tpRanks = tpRanks;
        this.engineId = engineId;
        this.basePort = basePort;
        this.abortTimeoutMillis = abortTimeoutMillis;
        this.clock = clock;
        ports = PortRange.bind(bindAddress, basePort, ranks, backlog);
        List<ServerSocket> sockets = ports.sockets();
        for (int rank = 0; rank < sockets.size(); rank++) {
            ServerSocket socket = sockets.get(rank);
            int own = rank;
            Thread acceptor = new Thread(() -> acceptLoop(socket, own), "kv-handshake-" + socket.getLocalPort());
            acceptor.setDaemon(true);
            acceptor.start();
        }
    }

    /** The side channel port the prefiller advertises ({@code remote_port}): its first rank's. */
    public int basePort() {
        return basePort;
    }

    /** Keeps {@code bytes} of KV for {@code requestId} until every tp rank's share is pulled or the timeout ends. */
    public void hold(String requestId, long bytes) {
        expire();
        Set<Integer> ranks = ConcurrentHashMap.newKeySet();
        for (int rank = 0; rank < tpRanks; rank++) {
            ranks.add(rank);
        }
        held.put(requestId, new Held(bytes, ranks, clock.getAsLong() + abortTimeoutMillis));
    }

    /** Requests whose KV is still held (not pulled from every rank, not expired). */
    public int holding() {
        expire();
        return held.size();
    }

    public long served() {
        return served.get();
    }

    public long refused() {
        return refused.get();
    }

    public long expired() {
        return expired.get();
    }

    /** Frees what waited past the abort timeout, as the prefiller's delayed-free check does. */
    private void expire() {
        long now = clock.getAsLong();
        held.entrySet().removeIf(entry -> {
            boolean late = abortTimeoutMillis <= 0 || entry.getValue().deadlineMillis() < now;
            if (late) {
                expired.incrementAndGet();
            }
            return late;
        });
    }

    private void acceptLoop(ServerSocket server, int rank) {
        while (!server.isClosed()) {
            try {
                Socket connection = server.accept();
                Thread handler = new Thread(() -> serve(connection, rank), "kv-serve");
                handler.setDaemon(true);
                handler.start();
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(Socket connection, int rank) {
        try (connection) {
            String line = KvWire.readLine(connection.getInputStream());
            if (line == null) {
                return;
            }
            JsonNode request = KvWire.JSON.readTree(line);
            String requestId = request.path("request_id").asText("");
            String wanted = request.path("engine_id").asText("");
            OutputStream out = connection.getOutputStream();
            if (!request.path("op").asText("").equals("pull")) {
                refuse(out, "unexpected message " + line);
                return;
            }
            if (!wanted.equals(engineId)) {
                refuse(out, "this is engine " + engineId + ", not " + wanted);
                return;
            }
            expire();
            long share = take(requestId, rank);
            if (share < 0) {
                refuse(out, "no KV of " + requestId + " is held on rank " + rank + " of engine " + engineId
                        + " (never prefilled here, already pulled, or freed after the abort timeout)");
                return;
            }
            out.write(("{\"bytes\":" + share + "}\n").getBytes(StandardCharsets.UTF_8));
            byte[] block = new byte[64 * 1024];
            for (long left = share; left > 0; left -= block.length) {
                out.write(block, 0, (int) Math.min(block.length, left));
            }
            out.flush();
            served.incrementAndGet();
        } catch (IOException e) {
            refused.incrementAndGet();
        }
    }

    /** This rank's share of the request's KV, which it then no longer holds; -1 when it holds none. */
    private long take(String requestId, int rank) {
        long[] share = {-1};
        held.computeIfPresent(requestId, (id, kv) -> {
            if (!kv.ranksLeft().remove(rank)) {
                return kv;
            }
            share[0] = kv.bytes() / tpRanks + (rank == tpRanks - 1 ? kv.bytes() % tpRanks : 0);
            return kv.ranksLeft().isEmpty() ? null : kv;
        });
        return share[0];
    }

    private void refuse(OutputStream out, String reason) throws IOException {
        refused.incrementAndGet();
        out.write(("ERR " + reason + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    @Override
    public void close() {
        ports.close();
    }
}
