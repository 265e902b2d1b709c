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
 * unchanged node is left alone by {@code up}; {@code spec} holds its parts, so that {@code plan} can say what
 * changed (null in records of state formats before 3). {@code directory} on the host holds the node's script,
 * log, pid file and exit status file, all named after the node. {@code container} is the container a node of
 * {@code runtime: docker} runs in (its script runs it in the foreground), null for a host process (and left out
 * of the state file then). {@code readiness} is the proxy's GET route that says it serves, as its kind has it (the
 * upstream scripts differ); null for nodes and in records written before it was kept (the proxy is then probed at
 * {@code /health}, and at {@code /healthcheck} when that route does not exist). {@code group} is the name of the node
 * a process of a node over several hosts belongs to (its every process, the first host's included, carries it): they
 * are started, restarted and stopped together; null for every other process (and left out of the state file then).
 * {@code dpRpcPort} is which of {@code extraPorts} is the data-parallel RPC port (on the first host of a node over several
 * hosts), so that it is not taken for a KV port; null for every other process and in records written before it was kept.
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
        ProcessSpec spec,
        @JsonInclude(JsonInclude.Include.NON_NULL) ContainerRecord container,
        @JsonInclude(JsonInclude.Include.NON_NULL) String readiness,
        @JsonInclude(JsonInclude.Include.NON_NULL) String group,
        @JsonInclude(JsonInclude.Include.NON_NULL) Integer dpRpcPort) {

    /** A node on one host, or the proxy probed as before routes were kept: no readiness route of its own, no group. */
    public ProcessRecord(String name, String role, String host, String address, int port, List<Integer> devices,
            List<Integer> extraPorts, long processGroup, String startTicks, Instant startedAt, String directory,
            String specHash, ProcessSpec spec, ContainerRecord container) {
        this(name, role, host, address, port, devices, extraPorts, processGroup, startTicks, startedAt, directory,
                specHash, spec, container, null, null, null);
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

    /** The log of the run before the current one (its supervisor keeps a few more, .log.2 and on). */
    public String previousLog() {
        return file(".log.1");
    }

    /** Written by epdctl once it saw the process ready: from then on its supervisor restarts it after a crash. */
    public String armedFile() {
        return file(".armed");
    }

    /** Written by epdctl before it signals the group: the supervisor starts nothing after it. */
    public String stopFile() {
        return file(".stop");
    }

    /** The supervisor's record of each exit of the script: epoch seconds, status, what it did. */
    public String exitsFile() {
        return file(".exits");
    }

    /** Present while the supervisor waits to start the script again: the attempt and when it starts. */
    public String restartingFile() {
        return file(".restarting");
    }

    /** The proxy is stopped first and probed by its own health route. */
    public boolean isProxy() {
        return "proxy".equals(role);
    }

    /**
     * Whether it serves HTTP: every process but the headless ranks of a node over several hosts (recorded with port 0),
     * which are neither probed over HTTP nor a backend of the proxy; they are ready when they run, and the node's first
     * process answers for the group (vLLM's API server is ready only once every rank has joined).
     */
    public boolean servesHttp() {
        return port > 0;
    }

    /** Every port it listens on: its HTTP port, then its other ports (KV, the data-parallel RPC port). */
    public List<Integer> ports() {
        List<Integer> ports = new ArrayList<>();
        if (servesHttp()) {
            ports.add(port);
        }
        ports.addAll(extraPorts);
        return ports;
    }

    public boolean isStarted() {
        return processGroup > 0;
    }

    public ProcessRecord started(long pid, String ticks, Instant at) {
        return new ProcessRecord(name, role, host, address, port, devices, extraPorts, pid, ticks, at, directory, specHash, spec,
                container, readiness, group, dpRpcPort);
    }

    private String file(String suffix) {
        return directory + "/" + name + suffix;
    }
}
