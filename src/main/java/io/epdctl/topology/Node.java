package io.epdctl.topology;

import java.util.List;
import java.util.Map;

/**
 * One {@code vllm serve} instance (over several hosts: one process per host, see {@link RankHost}). {@code host} and
 * {@code devices} are then the first host's and every device of the group, in host order. {@code kvPort} is this node's own override of the deployment's
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
        Container container,
        List<RankHost> rankHosts,
        Integer dataParallelRpcPort,
        boolean dataParallelExternal) {

    /** {@code data-parallel-mode}: vLLM's one process per host and API server on the first ({@code internal}), or one
     * process and API server per rank, each a backend of the proxy ({@code external}, vLLM's external load balancing). */
    public static final List<String> DATA_PARALLEL_MODES = List.of("internal", "external");

    /**
     * The node's share of one host: its NPUs there. A node given {@code hosts} is one data-parallel group across them
     * (vLLM's internal DP: the first host serves HTTP, the others run headless); a node given {@code host} and
     * {@code devices} has exactly one.
     */
    public record RankHost(String host, List<Integer> devices) {
        public RankHost {
            devices = List.copyOf(devices);
        }
    }

    public Node {
        rankHosts = rankHosts == null ? List.of(new RankHost(host, devices)) : List.copyOf(rankHosts);
    }

    /** A node of one host, as every node was before {@code hosts}. */
    public Node(String name, Role role, String host, List<Integer> devices, int port, int tensorParallelSize,
            int dataParallelSize, Integer kvPort, Map<String, String> env, Map<String, ArgValue> args, RestartPolicy restart,
            Container container) {
        this(name, role, host, devices, port, tensorParallelSize, dataParallelSize, kvPort, env, args, restart, container,
                null, null, false);
    }

    /** Whether it is one data-parallel group over several hosts (one process per host, the first serving HTTP). */
    public boolean spansHosts() {
        return rankHosts.size() > 1;
    }

    /** Whether it runs as several processes (over several hosts, or one per rank), started and stopped as one group. */
    public boolean isGroup() {
        return spansHosts() || (dataParallelExternal && dataParallelSize > 1);
    }

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
