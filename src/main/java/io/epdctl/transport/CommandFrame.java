package io.epdctl.transport;

import io.epdctl.shell.Shell;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The wrapper both transports put around a command, and the filters that take it out of the output again.
 * Over SSH a login shell runs before the command, and its start-up files may print anything, digits
 * included, on either stream. So the wrapper prints a marker line of its own on each stream, a token no
 * start-up file can know followed (on stdout) by the pid that leads the command's process group; the
 * filters drop everything before it and pass the command's own output through. The wrapper execs the
 * command, so nothing of the login shell runs after it (bash runs no EXIT trap on exec). Should the marker
 * never come (the login shell failed first), what arrived is passed through at the end: it says why.
 */
final class CommandFrame {
    private final String token = "epdctl-frame-" + UUID.randomUUID();

    /** {@code command} for a POSIX shell: the markers, then {@code /bin/sh -c command} in the shell's place. */
    String wrap(String command) {
        return "echo " + token + " $$; echo " + token + " >&2; exec /bin/sh -c " + Shell.quote(command);
    }

    /**
     * Runs {@code kill} to its end on a thread of its own, whatever interrupts the calling thread gets
     * meanwhile, and hands them back to it afterwards. A kill is what an interrupt (or a timeout) asked for:
     * a second interrupt must not cut it short and leave the command running (a caller that interrupts until
     * the call returns, or a user pressing Ctrl-C twice). Every step of a kill is bounded, so this ends.
     */
    static void killThroughInterrupts(Runnable kill) {
        Thread killer = new Thread(kill, "epdctl-kill");
        killer.setDaemon(true);
        killer.start();
        boolean interrupted = false;
        while (killer.isAlive()) {
            try {
                killer.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The command that kills the process group {@code pid} leads (the wrapper's shell, a session leader on both
     * transports), or that process alone should it lead none; it always succeeds. No "--": dash rejects it.
     */
    static String killGroup(long pid) {
        return "kill -KILL -" + pid + " 2>/dev/null || kill -KILL " + pid + " 2>/dev/null; true";
    }

    /** The filter for one of the command's streams; on stdout it also learns the pid from the marker. */
    Filter filter(OutputStream target, CountDownLatch closed) {
        return new Filter(token, target, closed);
    }

    /**
     * Drops what comes before the marker line, remembers the rest of that line, passes everything after it
     * to the target. Closing it (the channel's end of the stream) never closes the target; it counts down
     * {@code closed} if given.
     */
    static final class Filter extends OutputStream {
        private final byte[] token;
        private final OutputStream target;
        private final CountDownLatch closed;
        private final CountDownLatch markerOrEnd = new CountDownLatch(1);
        private final ByteArrayOutputStream before = new ByteArrayOutputStream();
        private boolean passing; // guarded by this
        private int markerAt = -1; // guarded by this; where in {@code before} the token was seen
        private volatile String markerRest;

        Filter(String token, OutputStream target, CountDownLatch closed) {
            this.token = token.getBytes(StandardCharsets.US_ASCII);
            this.target = target;
            this.closed = closed;
        }

        @Override
        public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
            if (passing) {
                target.write(bytes, offset, length);
                return;
            }
            int searchFrom = Math.max(0, before.size() - token.length + 1);
            before.write(bytes, offset, length);
            byte[] seen = before.toByteArray();
            if (markerAt < 0) {
                markerAt = indexOf(seen, token, searchFrom);
                if (markerAt < 0) {
                    return;
                }
            }
            int at = markerAt;
            int lineEnd = indexOf(seen, new byte[] {'\n'}, at + token.length);
            if (lineEnd < 0) {
                return; // the rest of the marker line is still on its way
            }
            markerRest = new String(seen, at + token.length, lineEnd - at - token.length, StandardCharsets.US_ASCII).strip();
            passing = true;
            before.reset();
            markerOrEnd.countDown();
            target.write(seen, lineEnd + 1, seen.length - lineEnd - 1);
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        /**
         * The pid the wrapper printed after the marker, waiting (bounded) for it; -1 if the output ended or
         * the wait timed out first. The command may be running before its marker has arrived here.
         */
        long awaitPid(Duration timeout) throws InterruptedException {
            markerOrEnd.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
            String rest = markerRest;
            return rest != null && rest.matches("\\d{1,18}") ? Long.parseLong(rest) : -1;
        }

        /** The end of the stream: without a marker, what came is all there is to show, so it goes to the target. */
        @Override
        public synchronized void close() throws IOException {
            if (!passing) {
                before.writeTo(target);
                before.reset();
                passing = true;
            }
            target.flush();
            markerOrEnd.countDown();
            if (closed != null) {
                closed.countDown();
            }
        }

        private static int indexOf(byte[] haystack, byte[] needle, int from) {
            for (int i = from; i + needle.length <= haystack.length; i++) {
                if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
                    return i;
                }
            }
            return -1;
        }
    }
}
