package io.epdctl.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ports for the listeners tests start. They are probed free and then handed to a process that binds them
 * later, so they are chosen below the kernel's ephemeral range: a port the kernel hands out to outgoing
 * connections can be taken by one between the probe and the bind (the same hazard docs/operations.md warns
 * operators about). Random within the range, so that test JVMs running side by side rarely try the same.
 */
public final class FreePorts {
    /** Above the well-known and registered ports that services on a test machine commonly use. */
    static final int LOWEST = 10000;
    private static final int ATTEMPTS = 200;

    private FreePorts() {
    }

    /** A port nobody listens on right now on any address. */
    public static int pick() {
        return pick(null);
    }

    /** A port nobody listens on right now at {@code address} (e.g. one of 127.0.0.2-5); null: any address. */
    public static int pick(String address) {
        return pick(address, ephemeralStart(Path.of("/proc/sys/net/ipv4/ip_local_port_range")));
    }

    /**
     * A port below {@code below} (and below the ephemeral range) nobody listens on right now, on any address:
     * for a KV port, which validation wants below the Mooncake transfer engine's range.
     */
    public static int pickBelow(int below) {
        return pick(null, Math.min(below, ephemeralStart(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))));
    }

    /** The first of {@code count} consecutive ports nobody listens on right now (a KV range of several ranks). */
    public static int pickRange(int count) {
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            int first = pick();
            boolean free = true;
            for (int port = first + 1; port < first + count && free; port++) {
                try (ServerSocket probe = new ServerSocket()) {
                    probe.bind(new InetSocketAddress(port));
                } catch (IOException taken) {
                    free = false;
                }
            }
            if (free) {
                return first;
            }
        }
        throw new IllegalStateException("no " + count + " consecutive free ports after " + ATTEMPTS + " tries");
    }

    private static int pick(String address, int below) {
        InetAddress bindTo = resolve(address);
        IOException last = null;
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            int candidate = ThreadLocalRandom.current().nextInt(LOWEST, below);
            try (ServerSocket probe = new ServerSocket()) {
                probe.bind(new InetSocketAddress(bindTo, candidate));
                return candidate;
            } catch (IOException taken) {
                last = taken;
            }
        }
        throw new UncheckedIOException("no free port in [" + LOWEST + ", " + below + ") after " + ATTEMPTS + " tries", last);
    }

    /**
     * The first port of the kernel's ephemeral range, from a file such as ip_local_port_range ("32768\t60999");
     * Linux's default when it cannot be read, or when it leaves no room below.
     */
    static int ephemeralStart(Path rangeFile) {
        try {
            // Line by line: Files.readString of a /proc/sys file returns its first byte alone on this JDK.
            int start = Integer.parseInt(Files.readAllLines(rangeFile).get(0).trim().split("\\s+")[0]);
            return start > LOWEST + 1000 ? start : 32768;
        } catch (IOException | RuntimeException e) {
            return 32768;
        }
    }

    private static InetAddress resolve(String address) {
        if (address == null) {
            return null;
        }
        try {
            return InetAddress.getByName(address);
        } catch (UnknownHostException e) {
            throw new UncheckedIOException(e);
        }
    }
}
