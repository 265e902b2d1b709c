package io.epdctl.topology;

import java.util.Locale;
import java.util.Set;

/** What epdctl needs to know about an address without resolving it (validation never touches the network). */
public final class Addresses {
    private static final Set<String> WILDCARDS = Set.of("0.0.0.0", "::", "[::]", "*");

    private Addresses() {
    }

    public static boolean isLoopback(String address) {
        String a = address.toLowerCase(Locale.ROOT);
        return a.equals("localhost") || a.equals("::1") || a.equals("[::1]") || a.startsWith("127.");
    }

    public static boolean isWildcard(String address) {
        return WILDCARDS.contains(address);
    }
}
