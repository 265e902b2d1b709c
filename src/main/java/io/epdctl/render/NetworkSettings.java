package io.epdctl.render;

import io.epdctl.shell.Shell;
import io.epdctl.topology.Addresses;
import io.epdctl.topology.Host;
import io.epdctl.topology.Node;
import io.epdctl.topology.Topology;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The network settings every multi-host guide sets by hand per host, derived for a node from its host's
 * address: {@code VLLM_HOST_IP} (the address a P/D instance advertises) and {@code HCCL_IF_IP} are the
 * address; {@code GLOO_SOCKET_IFNAME}, {@code TP_SOCKET_IFNAME} and {@code HCCL_SOCKET_IFNAME} are the
 * interface that carries it, which only the host knows: the node's script finds it there as it starts
 * ({@link #interfaceLookup}), and {@code check} and {@code up} ask the host beforehand, so that a wrong
 * address fails before anything starts. Each can be set in {@code vllm.env} or the node's {@code env}
 * instead. Nothing is derived for a loopback address (a one-machine demo stays as it is) or a host name
 * (an IP literal is what these variables take).
 */
public record NetworkSettings(Map<String, String> env, Optional<String> interfaceAddress, List<String> interfaceVariables) {
    public static final String HOST_IP = "VLLM_HOST_IP";
    public static final String HCCL_IF_IP = "HCCL_IF_IP";
    public static final List<String> INTERFACE_VARIABLES = List.of("GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME", "HCCL_SOCKET_IFNAME");
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    /** The settings of {@code node}: what it gets beyond the topology's {@code vllm.env} and its own {@code env}. */
    public static NetworkSettings of(Topology topology, Node node) {
        Map<String, String> given = new LinkedHashMap<>(topology.vllm().env());
        given.putAll(node.env());
        return of(topology.hostOf(node), given);
    }

    static NetworkSettings of(Host host, Map<String, String> given) {
        Optional<String> address = address(host.address());
        if (address.isEmpty()) {
            return new NetworkSettings(Map.of(), Optional.empty(), List.of());
        }
        Map<String, String> env = new LinkedHashMap<>();
        for (String variable : List.of(HOST_IP, HCCL_IF_IP)) {
            if (!given.containsKey(variable)) {
                env.put(variable, address.get());
            }
        }
        List<String> lookups = INTERFACE_VARIABLES.stream().filter(variable -> !given.containsKey(variable)).toList();
        return new NetworkSettings(env, lookups.isEmpty() ? Optional.empty() : address, lookups);
    }

    /** The address settings are derived from: an IP literal that is not loopback (IPv6 without brackets). */
    static Optional<String> address(String address) {
        String bare = address.startsWith("[") && address.endsWith("]") ? address.substring(1, address.length() - 1) : address;
        boolean literal = IPV4.matcher(bare).matches() || bare.contains(":");
        return literal && !Addresses.isLoopback(bare) && !Addresses.isWildcard(bare) ? Optional.of(bare) : Optional.empty();
    }

    /**
     * Shell lines for the node's script that set the interface variables to the interface carrying the
     * address, or stop the script saying that no interface does. Empty when nothing is looked up.
     */
    public List<String> interfaceLookup() {
        if (interfaceAddress.isEmpty()) {
            return List.of();
        }
        String address = interfaceAddress.get();
        List<String> lines = new ArrayList<>();
        lines.add("epdctl_if=$(ip -o addr show 2>/dev/null | awk -v a=" + Shell.quote(address)
                + " '{ split($4, p, \"/\") } p[1] == a { print $2; exit }') && [ -n \"$epdctl_if\" ] || { echo "
                + Shell.quote("epdctl: no network interface of this host carries " + address + " (ip -o addr)") + " >&2; exit 1; }");
        lines.add("export " + interfaceVariables.stream().map(variable -> variable + "=\"$epdctl_if\"").collect(Collectors.joining(" ")));
        return lines;
    }
}
