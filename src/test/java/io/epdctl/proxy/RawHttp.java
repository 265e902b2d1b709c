package io.epdctl.proxy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * HTTP/1.1 over a plain socket, for what a client library hides: whether a chunked body really
 * ended (its last chunk) or the connection just dropped, and hanging up in the middle of a stream.
 */
final class RawHttp implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;

    private RawHttp(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(60_000);
        in = socket.getInputStream();
    }

    static RawHttp post(int port, String path, String json) throws IOException {
        RawHttp http = new RawHttp(port);
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        OutputStream out = http.socket.getOutputStream();
        out.write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
        return http;
    }

    /** Everything until the server closes the connection (or resets it). */
    String readToEnd() throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        try {
            for (int n; (n = in.read(buffer)) != -1; ) {
                all.write(buffer, 0, n);
            }
        } catch (java.net.SocketException reset) {
            // a reset ends the answer as well as a close does
        }
        return all.toString(StandardCharsets.UTF_8);
    }

    /** Reads until {@code text} has arrived; returns what came. */
    String readUntil(String text) throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        while (!all.toString(StandardCharsets.UTF_8).contains(text)) {
            int b = in.read();
            if (b == -1) {
                throw new IOException("closed before " + text + " came; got: " + all);
            }
            all.write(b);
        }
        return all.toString(StandardCharsets.UTF_8);
    }

    /** True when a chunked body ends with its last (empty) chunk: the answer is complete. */
    static boolean endsWithLastChunk(String response) {
        return response.endsWith("\r\n0\r\n\r\n");
    }

    /**
     * The chunks of a chunked answer (status line and headers left out), up to its last chunk or where it broke
     * off; for ASCII answers, whose characters are their bytes.
     */
    static java.util.List<String> chunks(String response) {
        java.util.List<String> chunks = new java.util.ArrayList<>();
        int headersEnd = response.indexOf("\r\n\r\n");
        if (headersEnd < 0) {
            return chunks;
        }
        int at = headersEnd + 4;
        while (at < response.length()) {
            int lineEnd = response.indexOf("\r\n", at);
            int size = lineEnd < 0 ? 0 : Integer.parseInt(response.substring(at, lineEnd).strip(), 16);
            if (size == 0 || lineEnd + 2 + size > response.length()) {
                break;
            }
            chunks.add(response.substring(lineEnd + 2, lineEnd + 2 + size));
            at = lineEnd + 2 + size + 2;
        }
        return chunks;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
