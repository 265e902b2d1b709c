package io.epdctl.topology;

import java.util.List;

/**
 * How a node runs in a container ({@code runtime: docker}): its {@code image}, the CLI that runs it
 * ({@code command}: {@code docker}, or {@code podman}, whose CLI agrees), and the operator's extra
 * {@code docker run} flags ({@code args}, each one word, passed quoted).
 */
public record Container(String image, String command, List<String> args) {
    public static final String DEFAULT_COMMAND = "docker";

    /** Whether the operator's flags size the container's shared memory themselves (else it shares the host's IPC). */
    public boolean sizesSharedMemory() {
        return args.stream().anyMatch(arg -> arg.equals("--ipc") || arg.startsWith("--ipc=")
                || arg.equals("--shm-size") || arg.startsWith("--shm-size="));
    }
}
