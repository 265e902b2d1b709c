package io.epdctl.lifecycle;

import java.util.Set;
import java.util.TreeSet;

/** The TCP ports something listens on, read from the kernel's tables ({@code /proc/net/tcp}, {@code tcp6}). */
final class Listeners {
    private static final String LISTEN = "0A";

    private Listeners() {
    }

    /**
     * Ports in state LISTEN on any address: a listener on one address of a port already makes a node
     * that binds all addresses fail, so any listener counts as taken.
     */
    static Set<Integer> ports(String tables) {
        Set<Integer> ports = new TreeSet<>();
        for (String line : tables.split("\n")) {
            String[] fields = line.trim().split("\\s+");
            // sl local_address rem_address st ...; the header line has "local_address" there.
            if (fields.length < 4 || !LISTEN.equals(fields[3])) {
                continue;
            }
            int colon = fields[1].lastIndexOf(':');
            if (colon > 0) {
                try {
                    ports.add(Integer.parseInt(fields[1].substring(colon + 1), 16));
                } catch (NumberFormatException e) {
                    // not a socket line
                }
            }
        }
        return ports;
    }
}
