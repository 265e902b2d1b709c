package io.epdctl.sim.transfer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * ECExampleConnector's shared storage: one {@code <root>/<mm_hash>/encoder_cache.safetensors} per image. The
 * producer writes it; a consumer that does not find it recomputes (a miss, not an error).
 */
public final class EcStore {
    static final String FILE_NAME = "encoder_cache.safetensors";
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

    public void save(String mmHash, int tokens) throws IOException {
        Path file = fileOf(mmHash);
        Files.createDirectories(file.getParent());
        // stands in for the encoder output: a small header naming what it holds
        Path partial = file.resolveSibling(FILE_NAME + ".tmp");
        Files.writeString(partial, "{\"ec_cache\":{\"dtype\":\"BF16\",\"shape\":[" + tokens + ",4096]}}\n");
        Files.move(partial, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    public boolean contains(String mmHash) {
        return Files.isRegularFile(fileOf(mmHash));
    }
}
