package io.epdctl.sim.transfer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * ECExampleConnector's shared storage: one {@code <root>/<mm_hash>/encoder_cache.safetensors} per image. The
 * producer writes it; a consumer that does not find it recomputes (a miss, not an error).
 */
public final class EcStore {
    static final String FILE_NAME = "encoder_cache.safetensors";
    private static final Pattern CONTENT = Pattern.compile("\\{\"ec_cache\":\\{\"dtype\":\"BF16\",\"shape\":\\[(\\d+),4096]}}\n");
    private final Path root;

    public EcStore(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    /** The image's hash: the same image (same URL or data) gives the same name on every instance. */
    public static String mmHash(String imageReference) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(imageReference.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    public Path fileOf(String mmHash) {
        return root.resolve(mmHash).resolve(FILE_NAME);
    }

    /**
     * Writes the image's file as a whole: each writer through a temporary file of its own, renamed over the
     * final name, so that concurrent saves of one image (requests carrying the same picture) all succeed and a
     * reader finds either no file or a complete one.
     */
    public void save(String mmHash, int tokens) throws IOException {
        Path file = fileOf(mmHash);
        Files.createDirectories(file.getParent());
        Path partial = Files.createTempFile(file.getParent(), FILE_NAME + ".", ".tmp");
        try {
            Files.writeString(partial, content(tokens));
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial); // only when the write or the rename failed
        }
    }

    /**
     * A consumer's read of the image's file, as ECExampleConnector loads it: empty when there is none (a miss);
     * an exception, as safetensors raises, when the file is cut or not ours.
     */
    public Optional<Integer> load(String mmHash) throws IOException {
        Path file = fileOf(mmHash);
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        Matcher matcher = CONTENT.matcher(text);
        if (!matcher.matches()) {
            throw new IOException("SafetensorError: Error while deserializing header: " + file + " is incomplete ("
                    + text.length() + " characters)");
        }
        return Optional.of(Integer.parseInt(matcher.group(1)));
    }

    /** Stands in for the encoder output: a small header naming what it holds. */
    private static String content(int tokens) {
        return "{\"ec_cache\":{\"dtype\":\"BF16\",\"shape\":[" + tokens + ",4096]}}\n";
    }

}
