package io.epdctl.lifecycle;

import io.epdctl.transport.TransportException;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What {@code check} and {@code up} read off one host in one round trip ({@link HostCommands#hostFacts}):
 * the ports something listens on, the ephemeral port range and what is reserved from it, npu-smi's table
 * (as printed: {@link #npus} reads it), and hccn_tool's answers for the NPUs asked about (empty when
 * hccn_tool is not installed).
 */
record HostFacts(
        String host,
        Set<Integer> listening,
        Optional<EphemeralPorts> ephemeral,
        String npuSmi,
        Optional<Map<Integer, NpuLinks.Link>> links) {

    /** The NPUs, or empty when npu-smi is not installed; npu-smi failing is an error of the host. */
    Optional<NpuSmi.Report> npus() throws TransportException {
        return NpuSmi.interpret(host, npuSmi);
    }
}
