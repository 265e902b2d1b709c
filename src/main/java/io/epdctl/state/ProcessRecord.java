package io.epdctl.state;

import java.time.Instant;
import java.util.List;

/**
 * One process epdctl started: enough to find it again, probe it and stop it without the topology file.
 * {@code processGroup} is the pid of the process started with setsid, so also its process group id.
 * {@code specHash} identifies what was started, so that an unchanged node is left alone by {@code up}.
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
        Instant startedAt,
        String logPath,
        String scriptPath,
        String specHash) {
}
