package io.epdctl.topology;

import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/** What epdctl needs to know about an address without resolving it (validation never touches the network). */
public final class Addresses {
    private static final Set<String> WILDCARDS = Set.of("0.0.0.0", "::", "[::]", "*");
    private static final Pattern DOTTED_NUMBERS = Pattern.compile("[0-9.]+");
    private static final Pattern LABEL = Pattern.compile("[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?");
    private static final Pattern HEX_GROUP = Pattern.compile("[0-9A-Fa-f]{1,4}");

    private Addresses() {
    }

    public static boolean isLoopback(String address) {
        String a = address.toLowerCase(Locale.ROOT);
        return a.equals("localhost") || a.equals("::1") || a.equals("[::1]") || a.startsWith("127.");
    }

    public static boolean isWildcard(String address) {
        return WILDCARDS.contains(address);
    }

    /**
     * Why {@code address} is neither a host name nor an IP address, or null when it is one. Underscores are
     * allowed in names (ssh_config aliases have them); a wildcard is told apart by the validator.
     */
    static String problem(String address) {
        if (isWildcard(address)) {
            return null;
        }
        if (address.contains("@")) {
            return "'" + address + "' is not a host name or IP address: give the user as user:";
        }
        String literal = address.startsWith("[") && address.endsWith("]") ? address.substring(1, address.length() - 1) : address;
        if (literal.contains(":")) {
            return isIpv6(literal) ? null : "'" + address + "' is not a host name or IP address"
                    + (literal.chars().filter(c -> c == ':').count() == 1 ? ": give an SSH port as ssh-port:" : "");
        }
        if (DOTTED_NUMBERS.matcher(address).matches()) {
            return isIpv4(address) ? null : "'" + address + "' is not an IPv4 address (four numbers 0-255)";
        }
        if (address.length() > 253) {
            return "'" + address.substring(0, 40) + "...' is not a host name: longer than 253 characters";
        }
        for (String label : address.split("\\.", -1)) {
            if (!LABEL.matcher(label).matches()) {
                return "'" + address + "' is not a host name or IP address (a name is made of letters, digits, '-' "
                        + "and '_', in dot-separated parts of 1 to 63 characters that neither begin nor end with '-')";
            }
        }
        return null;
    }

    private static boolean isIpv4(String address) {
        String[] parts = address.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String part : parts) {
            if (part.isEmpty() || part.length() > 3 || Integer.parseInt(part) > 255) {
                return false;
            }
        }
        return true;
    }

    /** An IPv6 literal: up to eight groups of 1-4 hex digits, one '::' at most, an IPv4 tail, a %zone. */
    private static boolean isIpv6(String address) {
        String a = address;
        int zone = a.indexOf('%');
        if (zone >= 0) {
            if (zone == a.length() - 1) {
                return false;
            }
            a = a.substring(0, zone);
        }
        int groups = 0;
        String tail = a.contains(".") ? a.substring(a.lastIndexOf(':') + 1) : null;
        if (tail != null) {
            if (!isIpv4(tail)) {
                return false;
            }
            a = a.substring(0, a.lastIndexOf(':') + 1) + "0:0";
        }
        int gap = a.indexOf("::");
        if (gap >= 0 && a.indexOf("::", gap + 1) >= 0) {
            return false;
        }
        String[] halves = gap >= 0 ? new String[] {a.substring(0, gap), a.substring(gap + 2)} : new String[] {a};
        for (String half : halves) {
            if (half.isEmpty()) {
                continue;
            }
            for (String group : half.split(":", -1)) {
                if (!HEX_GROUP.matcher(group).matches()) {
                    return false;
                }
                groups++;
            }
        }
        return gap >= 0 ? groups < 8 : groups == 8;
    }
}
