package io.epdctl.lifecycle;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * A host's ephemeral port range ({@code net.ipv4.ip_local_port_range}) and the ports reserved from it
 * ({@code net.ipv4.ip_local_reserved_ports}). The kernel gives ports of that range to outgoing connections
 * unless they are reserved, so a listener port inside it can be taken by any connection before its node
 * binds it: the bind then fails with "Address already in use", now and then, minutes into a start.
 */
public record EphemeralPorts(int first, int last, SortedSet<Integer> reserved) {
    /** Where epdctl suggests keeping the reservation across reboots. */
    static final String SYSCTL_FILE = "/etc/sysctl.d/90-epdctl-reserved-ports.conf";
    private static final String KEY = "net.ipv4.ip_local_reserved_ports";

    public EphemeralPorts {
        reserved = new TreeSet<>(reserved);
    }

    /**
     * From the two files as the kernel prints them: {@code "32768\t60999"} and {@code "8001,33003,50001-50003"}
     * (empty when nothing is reserved). Empty when the range cannot be read (no such file: not Linux).
     */
    static Optional<EphemeralPorts> parse(String range, String reserved) {
        String[] bounds = range.strip().split("\\s+");
        if (bounds.length != 2) {
            return Optional.empty();
        }
        try {
            int first = Integer.parseInt(bounds[0]);
            int last = Integer.parseInt(bounds[1]);
            return first <= last ? Optional.of(new EphemeralPorts(first, last, ports(reserved))) : Optional.empty();
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** A list in the kernel's format: ports and ranges, separated by commas. */
    static SortedSet<Integer> ports(String list) {
        SortedSet<Integer> ports = new TreeSet<>();
        for (String item : list.strip().split(",")) {
            String entry = item.strip();
            if (entry.isEmpty()) {
                continue;
            }
            int dash = entry.indexOf('-');
            try {
                int from = Integer.parseInt(dash < 0 ? entry : entry.substring(0, dash).strip());
                int to = dash < 0 ? from : Integer.parseInt(entry.substring(dash + 1).strip());
                for (int port = from; port <= to && port <= 65535; port++) {
                    ports.add(port);
                }
            } catch (NumberFormatException e) {
                // not a port: the kernel never prints one, so nothing to keep
            }
        }
        return ports;
    }

    /** The ones of {@code ports} an outgoing connection can take: inside the range and not reserved. */
    public SortedSet<Integer> exposed(Collection<Integer> ports) {
        SortedSet<Integer> exposed = new TreeSet<>();
        for (int port : ports) {
            if (port >= first && port <= last && !reserved.contains(port)) {
                exposed.add(port);
            }
        }
        return exposed;
    }

    /** The reserved list with {@code more} added, in the kernel's format: writing the key replaces the whole list. */
    public String reservedWith(Collection<Integer> more) {
        SortedSet<Integer> all = new TreeSet<>(reserved);
        all.addAll(more);
        return format(all);
    }

    /** The command that reserves {@code exposed} now, keeping what is reserved already. */
    public String sysctlCommand(Collection<Integer> exposed) {
        return "sysctl -w " + KEY + "=" + reservedWith(exposed);
    }

    /** The line of {@link #SYSCTL_FILE} that keeps that reservation across reboots. */
    public String sysctlFileLine(Collection<Integer> exposed) {
        return KEY + " = " + reservedWith(exposed);
    }

    /**
     * What {@code check} and {@code up} say about {@code exposed} ports of a host: why they are at risk and
     * the exact lines that reserve them.
     */
    public String advice(Collection<Integer> exposed) {
        return "ports " + format(exposed) + " are inside the ephemeral port range " + first + "-" + last
                + " (net.ipv4.ip_local_port_range) and not reserved: an outgoing connection can take one before its node binds it."
                + " Reserve them: " + sysctlCommand(exposed) + " (and, to keep it across reboots, the line '"
                + sysctlFileLine(exposed) + "' in " + SYSCTL_FILE + ")";
    }

    /** Ports as the kernel lists them: ascending, runs as {@code a-b}, separated by commas. */
    static String format(Collection<Integer> ports) {
        List<String> items = new ArrayList<>();
        Integer start = null;
        Integer previous = null;
        for (int port : new TreeSet<>(ports)) {
            if (previous != null && port == previous + 1) {
                previous = port;
                continue;
            }
            if (start != null) {
                items.add(start.equals(previous) ? String.valueOf(start) : start + "-" + previous);
            }
            start = port;
            previous = port;
        }
        if (start != null) {
            items.add(start.equals(previous) ? String.valueOf(start) : start + "-" + previous);
        }
        return String.join(",", items);
    }
}
