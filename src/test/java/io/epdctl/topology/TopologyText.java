package io.epdctl.topology;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Topology files for tests: a valid 1E1P1D base to break in one place, and where a text stands in it. */
final class TopologyText {
    /** Valid: every validation test changes one thing in it. */
    static final String VALID = """
            name: test
            model: /models/qwen
            served-model-name: qwenvl
            hosts:
              local: {address: 127.0.0.1}
              npu-a: {address: 192.0.2.10, user: root, npus: 8}
            ec-transfer: {shared-storage-path: /data/ec_cache}
            kv-transfer: {kv-port: 50001}
            nodes:
              - {name: e0, role: encoder, host: local, devices: [0], port: 23001}
              - {name: p0, role: prefill, host: local, devices: [1], port: 33003}
              - {name: d0, role: decode, host: local, devices: [2], port: 33006}
            proxy: {host: local, port: 8001}
            """;

    private TopologyText() {
    }

    /** {@code LINE:COL} of the {@code occurrence}-th (1-based) appearance of {@code needle}. */
    static String locate(String text, String needle, int occurrence) {
        int index = -1;
        for (int i = 0; i < occurrence; i++) {
            index = text.indexOf(needle, index + 1);
            if (index < 0) {
                throw new IllegalArgumentException("'" + needle + "' occurs fewer than " + occurrence + " times");
            }
        }
        int line = 1;
        int lineStart = 0;
        for (int i = 0; i < index; i++) {
            if (text.charAt(i) == '\n') {
                line++;
                lineStart = i + 1;
            }
        }
        return line + ":" + (index - lineStart + 1);
    }

    static String locate(String text, String needle) {
        return locate(text, needle, 1);
    }

    static String replace(String text, String from, String to) {
        if (!text.contains(from)) {
            throw new IllegalArgumentException("'" + from + "' is not in the text");
        }
        return text.replace(from, to);
    }

    static Path write(Path directory, String text) {
        try {
            return Files.writeString(directory.resolve("topology.yaml"), text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
