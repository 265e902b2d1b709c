package io.epdctl.lifecycle;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * Writes a POSIX tar archive (ustar, with a pax header for a name longer than ustar holds): regular
 * files only, mode 0644, owned by uid/gid 0. Small enough to write here rather than add a dependency,
 * and read by every tar.
 */
final class TarArchive implements AutoCloseable {
    private static final int BLOCK = 512;
    private final OutputStream out;
    private final long mtime;

    TarArchive(OutputStream out, Instant mtime) {
        this.out = out;
        this.mtime = mtime.getEpochSecond();
    }

    void add(String name, byte[] content) throws IOException {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        String ustarName = name;
        if (nameBytes.length > 100) {
            // pax: "LEN path=NAME\n", LEN counting itself
            String record = " path=" + name + "\n";
            int length = record.getBytes(StandardCharsets.UTF_8).length;
            int total = length + String.valueOf(length).length();
            total = length + String.valueOf(total).length();
            byte[] pax = (total + record).getBytes(StandardCharsets.UTF_8);
            writeEntry(header("PaxHeader/" + lastPart(name, 80), pax.length, 'x'), pax);
            ustarName = lastPart(name, 100);
        }
        writeEntry(header(ustarName, content.length, '0'), content);
    }

    /** The end of a name that fits in {@code limit} bytes, for the ustar field a pax-aware reader ignores. */
    private static String lastPart(String name, int limit) {
        String part = name;
        while (part.getBytes(StandardCharsets.UTF_8).length > limit) {
            part = part.substring(1);
        }
        return part;
    }

    private void writeEntry(byte[] header, byte[] content) throws IOException {
        out.write(header);
        out.write(content);
        int padding = (BLOCK - content.length % BLOCK) % BLOCK;
        out.write(new byte[padding]);
    }

    private byte[] header(String name, long size, char type) {
        byte[] header = new byte[BLOCK];
        put(header, 0, 100, name.getBytes(StandardCharsets.UTF_8));
        octal(header, 100, 8, 0644);
        octal(header, 108, 8, 0);
        octal(header, 116, 8, 0);
        octal(header, 124, 12, size);
        octal(header, 136, 12, mtime);
        java.util.Arrays.fill(header, 148, 156, (byte) ' ');
        header[156] = (byte) type;
        put(header, 257, 6, "ustar\0".getBytes(StandardCharsets.US_ASCII));
        put(header, 263, 2, "00".getBytes(StandardCharsets.US_ASCII));
        put(header, 265, 32, "root".getBytes(StandardCharsets.US_ASCII));
        put(header, 297, 32, "root".getBytes(StandardCharsets.US_ASCII));
        long checksum = 0;
        for (byte b : header) {
            checksum += b & 0xff;
        }
        // six octal digits, NUL, space: as tar writes it
        byte[] digits = String.format("%06o", checksum).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(digits, 0, header, 148, 6);
        header[154] = 0;
        header[155] = ' ';
        return header;
    }

    private static void put(byte[] header, int offset, int length, byte[] value) {
        System.arraycopy(value, 0, header, offset, Math.min(length, value.length));
    }

    /** {@code value} as zero-padded octal digits and a NUL, filling the field. */
    private static void octal(byte[] header, int offset, int length, long value) {
        String digits = String.format("%0" + (length - 1) + "o", value);
        put(header, offset, length - 1, digits.getBytes(StandardCharsets.US_ASCII));
        header[offset + length - 1] = 0;
    }

    /** Two zero blocks end the archive. */
    @Override
    public void close() throws IOException {
        out.write(new byte[2 * BLOCK]);
        out.flush();
    }
}
