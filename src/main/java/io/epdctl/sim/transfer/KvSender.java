package io.epdctl.sim.transfer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;

/** The prefill side: pushes a request's KV to the decode instance named in its kv_transfer_params. */
public final class KvSender {
    private static final int CHUNK = 64 * 1024;

    private KvSender() {
    }

    /** Pushes {@code bytes} bytes for {@code requestId}; fails when nobody listens or the decoder refuses. */
    public static void push(String host, int port, String requestId, String engineId, long bytes, int timeoutMillis)
            throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), timeoutMillis);
            socket.setSoTimeout(timeoutMillis);
            OutputStream out = socket.getOutputStream();
            out.write(KvWire.header(requestId, engineId, bytes));
            byte[] block = new byte[CHUNK];
            for (long left = bytes; left > 0; left -= CHUNK) {
                out.write(block, 0, (int) Math.min(CHUNK, left));
            }
            out.flush();
            InputStream in = socket.getInputStream();
            String answer = KvWire.readLine(in);
            if (!"OK".equals(answer)) {
                throw new IOException("decoder at " + host + ":" + port + " refused the KV of " + requestId + ": "
                        + (answer == null ? "connection closed" : answer));
            }
        }
    }
}
