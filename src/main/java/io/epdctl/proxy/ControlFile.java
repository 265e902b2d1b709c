package io.epdctl.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where a running proxy's control channel is and its credential: {@code {"port": N, "token": "..."}} in a
 * file only its owner can read (0600), by default {@value #NAME} in the proxy's working directory (its run
 * directory when epdctl started it). The token is made by the proxy at start and is nowhere else: not in
 * an argument, a log or epdctl's state; whoever may read the file may control the proxy.
 */
public record ControlFile(int port, String token) {
    /** The file's name in the proxy's working directory, which epdctl reads it from on the proxy's host. */
    public static final String NAME = "proxy.control";
    private static final String TEMPORARY_PREFIX = ".proxy-control";
    private static final String TEMPORARY_SUFFIX = ".tmp";
    /** Older than this, a temporary file is no write in progress: its proxy was killed while writing. */
    private static final Duration ABANDONED_AFTER = Duration.ofSeconds(10);

    /** A new random credential for a control channel on {@code port}. */
    static ControlFile fresh(int port) {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return new ControlFile(port, Base64.getUrlEncoder().withoutPadding().encodeToString(bytes));
    }

    /** The file's content as the proxy writes it (parsed back by {@link #parse}). */
    String json() {
        Map<String, Object> content = new LinkedHashMap<>();
        content.put("port", port);
        content.put("token", token);
        return new String(ProxyJson.buffer(content).getBytes(), java.nio.charset.StandardCharsets.UTF_8) + "\n";
    }

    /** Reads what {@link #json} wrote; an {@link IllegalArgumentException} saying what is wrong otherwise. */
    public static ControlFile parse(String content) {
        JsonNode node;
        try {
            node = ProxyJson.MAPPER.readTree(content);
        } catch (IOException e) {
            throw new IllegalArgumentException("not JSON");
        }
        if (node == null || !node.path("port").canConvertToInt() || !node.path("token").isTextual()
                || node.path("token").asText().isEmpty()) {
            throw new IllegalArgumentException("no port and token in it");
        }
        return new ControlFile(node.path("port").asInt(), node.path("token").asText());
    }

    /**
     * Writes it at {@code path}, readable by its owner only from the first byte on, replacing a previous one at once;
     * then removes the temporary files of proxies killed while they wrote theirs here, each with a token in it.
     */
    void writeTo(Path path) {
        Path dir = path.toAbsolutePath().getParent();
        try {
            Path temporary = Files.createTempFile(dir, TEMPORARY_PREFIX, TEMPORARY_SUFFIX,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try {
                Files.writeString(temporary, json());
                try {
                    Files.move(temporary, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(temporary, path, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(temporary);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the control file " + path + ": " + e.getMessage(), e);
        }
        removeAbandonedTemporaries(dir);
    }

    private static void removeAbandonedTemporaries(Path dir) {
        Instant abandoned = Instant.now().minus(ABANDONED_AFTER);
        try (DirectoryStream<Path> temporaries = Files.newDirectoryStream(dir, TEMPORARY_PREFIX + "*" + TEMPORARY_SUFFIX)) {
            for (Path temporary : temporaries) {
                if (Files.getLastModifiedTime(temporary).toInstant().isBefore(abandoned)) {
                    Files.deleteIfExists(temporary);
                }
            }
        } catch (IOException e) {
            // tidying only: the control file itself is written
        }
    }

    /** Removes the file at {@code path} if it is still this one (a proxy that took over has written its own). */
    void removeFrom(Path path) {
        try {
            if (Files.exists(path) && parse(Files.readString(path)).equals(this)) {
                Files.delete(path);
            }
        } catch (IOException | IllegalArgumentException e) {
            // someone else's file, or gone: leave it
        }
    }

    @Override
    public String toString() {
        return "control channel on 127.0.0.1:" + port; // never the token
    }
}
