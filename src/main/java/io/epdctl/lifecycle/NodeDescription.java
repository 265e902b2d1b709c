package io.epdctl.lifecycle;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * {@code epdctl describe}: one process of a deployment, as the state records it and its host shows it now.
 * {@code argv} and {@code env} are read back from the script on the host (what really runs), secrets masked;
 * empty with {@code scriptProblem} saying why when the script could not be read. {@code processGroup} is the
 * pid of the wrapper shell that leads the group; {@code groupPids} the group's live processes (the server
 * and its engine children). {@code lastExit} is the last exit of the script its supervisor recorded (null when
 * it never ended, or ended without one). {@code restarts} is how often the supervisor started it again since
 * {@code up} started it (null when its host cannot be asked). {@code dpRpcPort} is which of {@code ports} is the
 * data-parallel RPC port (null when none is, or the state does not say); the others but {@code port} are KV ports.
 */
public record NodeDescription(
        String deployment,
        String name,
        String role,
        String host,
        String address,
        List<Integer> npus,
        int port,
        List<Integer> ports,
        @JsonInclude(JsonInclude.Include.NON_NULL) Integer dpRpcPort,
        long processGroup,
        List<Long> groupPids,
        Instant startedAt,
        String state,
        boolean alive,
        boolean ready,
        String readiness,
        String script,
        String log,
        List<String> argv,
        Map<String, String> env,
        String scriptProblem,
        LastExit lastExit,
        Integer restarts) {

    /** The script's exit status as its wrapper wrote it, and when (the file's time; null when the host cannot tell). */
    public record LastExit(int status, Instant at) {
    }

    /** Whether the host answered: an unreachable one leaves only what the state records. */
    public boolean hostReached() {
        return !state.startsWith("host unreachable");
    }
}
