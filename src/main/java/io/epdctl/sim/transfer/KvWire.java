package io.epdctl.sim.transfer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * The simulator's stand-in for Mooncake's transfer, one TCP connection per push: a JSON header line
 * {@code {"request_id", "engine_id", "bytes"}}, then that many bytes, answered by one line: {@code OK} or
 * {@code ERR <reason>}.
 */
final class KvWire {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_LINE = 64 * 1024;

    private KvWire() {
    }

    static byte[] header(String requestId, String engineId, long bytes) throws IOException {
        ObjectNode header = JSON.createObjectNode().put("request_id", requestId).put("engine_id", engineId)
                .put("bytes", bytes);
        return (JSON.writeValueAsString(header) + "\n").getBytes(StandardCharsets.UTF_8);
    }

    /** One line without its newline, or null at end of stream. */
    static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != '\n') {
            if (b < 0) {
                return line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
            }
            if (line.size() >= MAX_LINE) {
                throw new IOException("header line longer than " + MAX_LINE + " bytes");
            }
            line.write(b);
        }
        return line.toString(StandardCharsets.UTF_8);
    }
}
