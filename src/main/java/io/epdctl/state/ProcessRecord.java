package io.epdctl.state;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * One process epdctl started: enough to find it again, probe it and stop it without the topology file.
 * {@code processGroup} is the pid of the process started with setsid, so also its process group id; it is 0
 * while the process is being started (its pid file in {@code directory} then tells). {@code startTicks}
 * is that process's start time in clock ticks since boot ({@code /proc/PID/stat}), which tells our
 * process from a later one that reuses the pid. {@code specHash} identifies what was started, so that an
 * unchanged node is left alone by {@code up}. {@code directory} on the host holds the node's script,
 * log, pid file and exit status file, all named after the node. {@code container} is the container a node of
 * {@code runtime: docker} runs in (its script runs it in the foreground), null for a host process (and left out
 * of the state file then).
 */
public record ProcessRecord(
        String name,
        String role,
        String host,
        String address,
        int port,
        List<Integer> devices,
        List<Integer> extraPorts,
        long processGroup,
        String startTicks,
        Instant startedAt,
        String directory,
        String specHash,
        @JsonInclude(JsonInclude.Include.NON_NULL) ContainerRecord container) {

    /** A host process. */
    public ProcessRecord(String name, String role, String host, String address, int port, List<Integer> devices,
            List<Integer> extraPorts, long processGroup, String startTicks, Instant startedAt, String directory, String specHash) {
        this(name, role, host, address, port, devices, extraPorts, processGroup, startTicks, startedAt, directory, specHash, null);
    }

    public String script() {
        return file(".sh");
    }

    public String log() {
        return file(".log");
    }

    public String pidFile() {
        return file(".pid");
    }

    public String exitFile() {
        return file(".exit");
    }

    /** The proxy is stopped first and probed by its own health route. */
    public boolean isProxy() {
        return "proxy".equals(role);
    }

    /** Every port it listens on: its HTTP port, then its KV ports. */
    public List<Integer> ports() {
        List<Integer> ports = new ArrayList<>();
        ports.add(port);
        ports.addAll(extraPorts);
        return ports;
    }

    public boolean isStarted() {
        return processGroup > 0;
    }

    public ProcessRecord started(long pid, String ticks, Instant at) {
        return new ProcessRecord(name, role, host, address, port, devices, extraPorts, pid, ticks, at, directory, specHash, container);
    }

    private String file(String suffix) {
        return directory + "/" + name + suffix;
    }
}
