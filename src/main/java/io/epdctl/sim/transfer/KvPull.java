package io.epdctl.sim.transfer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * The decode side of MooncakeConnectorV1: pulls a request's KV from the prefiller its kv_transfer_params name,
 * from each of the prefiller's tensor-parallel ranks ({@code remote_port + rank}), over {@link KvHandshake}'s
 * wire.
 */
public final class KvPull {
    private KvPull() {
    }

    /**
     * The bytes pulled for {@code remoteRequestId} from {@code ranks} ports from {@code host:port}; an
     * IOException saying which port failed and why (nobody listens, the prefiller refused, a cut transfer).
     */
    public static long pull(String host, int port, int ranks, String remoteRequestId, String remoteEngineId,
            int timeoutMillis) throws IOException {
        long total = 0;
        for (int rank = 0; rank < ranks; rank++) {
            total += pullRank(host, port + rank, remoteRequestId, remoteEngineId, timeoutMillis);
        }
        return total;
    }

    private static long pullRank(String host, int port, String requestId, String engineId, int timeoutMillis)
            throws IOException {
        try (Socket socket = new Socket()) {
            try {
                socket.connect(new InetSocketAddress(host, port), timeoutMillis);
            } catch (IOException e) {
                throw new IOException("cannot reach the handshake socket at " + host + ":" + port + ": " + e.getMessage(), e);
            }
            socket.setSoTimeout(timeoutMillis);
            OutputStream out = socket.getOutputStream();
            String request = KvWire.JSON.createObjectNode().put("op", "pull").put("request_id", requestId)
                    .put("engine_id", engineId).toString();
            out.write((request + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = socket.getInputStream();
            String answer = KvWire.readLine(in);
            if (answer == null || answer.startsWith("ERR ")) {
                throw new IOException(host + ":" + port + " refused: "
                        + (answer == null ? "connection closed" : answer.substring(4)));
            }
            JsonNode header = KvWire.JSON.readTree(answer);
            long bytes = header.path("bytes").asLong(-1);
            if (bytes < 0) {
                throw new IOException(host + ":" + port + " answered " + answer);
            }
            in.skipNBytes(bytes); // throws on a short stream: a cut transfer fails the pull
            return bytes;
        }
    }
}
