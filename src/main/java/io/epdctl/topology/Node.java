package io.epdctl.topology;

import java.util.List;
import java.util.Map;

/**
 * One {@code vllm serve} instance. {@code kvPort} is this node's own override of the deployment's
 * KV port, or null; {@code env} and {@code args} override the deployment-wide {@code vllm} section, and
 * {@code restart} is its own policy or else the {@code vllm} section's. {@code container} is the container it
 * runs in ({@code runtime: docker}), or null for a host process.
 */
public record Node(
        String name,
        Role role,
        String host,
        List<Integer> devices,
        int port,
        int tensorParallelSize,
        int dataParallelSize,
        Integer kvPort,
        Map<String, String> env,
        Map<String, ArgValue> args,
        RestartPolicy restart,
        Container container) {

    public boolean inContainer() {
        return container != null;
    }

    /** Chooses the NPUs of an Ascend process; epdctl sets it from {@code devices}. */
    public static final String DEVICES_VARIABLE = "ASCEND_RT_VISIBLE_DEVICES";

    /** Ranks of the instance; each occupies one NPU and, on a decode node, one KV port. */
    public int ranks() {
        return tensorParallelSize * dataParallelSize;
    }
}
