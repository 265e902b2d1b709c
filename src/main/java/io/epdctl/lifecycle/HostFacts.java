package io.epdctl.lifecycle;

import io.epdctl.transport.TransportException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What {@code check} and {@code up} read off one host in one round trip ({@link HostCommands#hostFacts}):
 * the ports something listens on, the ephemeral port range and what is reserved from it, the value of
 * {@code net.ipv4.tcp_migrate_req} ("" where the kernel has no such setting), npu-smi's table
 * (as printed: {@link #npus} reads it), and hccn_tool's answers for the NPUs asked about (empty when
 * hccn_tool is not installed), and which interface carries each of its addresses ({@code ip -o addr}).
 */
record HostFacts(
        String host,
        Set<Integer> listening,
        Optional<EphemeralPorts> ephemeral,
        String migrateRequests,
        String npuSmi,
        Optional<Map<Integer, NpuLinks.Link>> links,
        Map<String, String> interfaces) {

    /** The NPUs, or empty when npu-smi is not installed; npu-smi failing is an error of the host. */
    Optional<NpuSmi.Report> npus() throws TransportException {
        return NpuSmi.interpret(host, npuSmi);
    }

    /**
     * Address to interface, from the lines of {@code ip -o addr show}: {@code "2: eth0    inet 192.0.2.10/24 brd ..."}.
     * The first interface listed for an address wins, as the node's script takes it.
     */
    static Map<String, String> interfaces(List<String> lines) {
        Map<String, String> interfaces = new LinkedHashMap<>();
        for (String line : lines) {
            String[] fields = line.strip().split("\\s+");
            if (fields.length >= 4 && (fields[2].equals("inet") || fields[2].equals("inet6"))) {
                interfaces.putIfAbsent(fields[3].split("/")[0], fields[1]);
            }
        }
        return interfaces;
    }
}
