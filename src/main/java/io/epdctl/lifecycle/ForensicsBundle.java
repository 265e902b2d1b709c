package io.epdctl.lifecycle;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;
import java.util.zip.GZIPOutputStream;

/**
 * What {@code collect} gathered: files under one directory named after the deployment and the time, and
 * what could not be gathered ({@code warnings}, also in the bundle's {@code collect.txt}).
 * {@code hostsAnswered} counts the hosts that answered.
 */
public record ForensicsBundle(String directory, Instant collectedAt, List<Entry> entries, List<String> warnings, int hostsAnswered) {

    /** One file of the bundle, by its path below {@link #directory}. Its content is already masked. */
    public record Entry(String path, byte[] content) {
    }

    /** The bundle could not be written to its file. */
    public static final class WriteException extends Exception {
        private static final long serialVersionUID = 1L;

        WriteException(String message) {
            super(message);
        }
    }

    /**
     * Writes the bundle as a gzip-compressed tar to {@code target}, atomically: a temporary file next to it,
     * synced, then renamed, so that {@code target} is the whole bundle or not there (or what it was).
     */
    public void writeTo(Path target) throws WriteException {
        Path absolute = target.toAbsolutePath();
        Path temporary = null;
        try {
            temporary = Files.createTempFile(absolute.getParent(), "." + absolute.getFileName(), ".tmp");
            try (OutputStream file = Files.newOutputStream(temporary);
                    GZIPOutputStream gzip = new GZIPOutputStream(file, 1 << 16);
                    TarArchive tar = new TarArchive(gzip, collectedAt)) {
                for (Entry entry : entries) {
                    tar.add(directory + "/" + entry.path(), entry.content());
                }
            }
            try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE)) {
                channel.force(true);
            }
            try {
                Files.move(temporary, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temporary, absolute, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new WriteException("cannot write " + target + ": " + describe(e));
        } finally {
            if (temporary != null) {
                try {
                    Files.deleteIfExists(temporary);
                } catch (IOException e) {
                    // the rename took it, or the directory is gone: nothing to clean
                }
            }
        }
    }

    private static String describe(IOException e) {
        if (e instanceof java.nio.file.NoSuchFileException missing) {
            return missing.getFile() + ": no such file or directory";
        }
        if (e instanceof java.nio.file.AccessDeniedException denied) {
            return denied.getFile() + ": permission denied";
        }
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }
}
