package io.epdctl.testing;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The guide's two layouts as simulators on this machine: 1E1PD (encoder + prefill-decode) and 1E1P1D (encoder,
 * prefill, decode), with the EC directory under {@code dir} and the decode's kv port chosen free. Closing it
 * closes every node, even when starting one of them failed.
 */
public final class SimCluster implements AutoCloseable {
    public static final String SERVED_NAME = "qwenvl";
    private final Path ecCache;
    private final List<SimNode> nodes = new ArrayList<>();
    private int kvPort = -1;

    private SimCluster(Path ecCache) {
        this.ecCache = ecCache;
    }

    /** Encoder {@code e0} and prefill-decode {@code pd0}; {@code env} goes to every node. */
    public static SimCluster onePd(Path dir, Map<String, String> env) {
        SimCluster cluster = new SimCluster(dir.resolve("ec_cache"));
        try {
            cluster.add(dir, "e0", "0", cluster.encoderFlags(), env);
            cluster.add(dir, "pd0", "1", cluster.ecFlags("ec_consumer"), env);
            return cluster;
        } catch (RuntimeException e) {
            cluster.close();
            throw e;
        }
    }

    /** Encoder {@code e0}, prefill {@code p0} and decode {@code d0}; {@code env} goes to every node. */
    public static SimCluster onePrefillOneDecode(Path dir, Map<String, String> env) {
        SimCluster cluster = new SimCluster(dir.resolve("ec_cache"));
        try {
            cluster.kvPort = SimNode.freePort();
            cluster.add(dir, "e0", "0", cluster.encoderFlags(), env);
            List<String> prefill = new ArrayList<>(cluster.ecFlags("ec_consumer"));
            prefill.addAll(cluster.kvFlags("kv_producer", "0"));
            cluster.add(dir, "p0", "1", prefill, env);
            cluster.add(dir, "d0", "4", cluster.kvFlags("kv_consumer", "1"), env);
            return cluster;
        } catch (RuntimeException e) {
            cluster.close();
            throw e;
        }
    }

    /**
     * The same layout in pull mode (MooncakeConnectorV1): {@code p0} binds the handshake port {@link #kvPort()},
     * {@code d0} binds no KV port and pulls from the prefiller its requests name.
     */
    public static SimCluster onePrefillOneDecodePull(Path dir, Map<String, String> env) {
        SimCluster cluster = new SimCluster(dir.resolve("ec_cache"));
        try {
            cluster.kvPort = SimNode.freePort();
            cluster.add(dir, "e0", "0", cluster.encoderFlags(), env);
            List<String> prefill = new ArrayList<>(cluster.ecFlags("ec_consumer"));
            prefill.addAll(pullKvFlags("kv_producer", "0", cluster.kvPort, ""));
            cluster.add(dir, "p0", "1", prefill, env);
            cluster.add(dir, "d0", "4", pullKvFlags("kv_consumer", "1", cluster.kvPort, ""), env);
            return cluster;
        } catch (RuntimeException e) {
            cluster.close();
            throw e;
        }
    }

    /**
     * --kv-transfer-config of MooncakeConnectorV1 as its deployment guide writes it, both sides tp 1 x dp 1;
     * {@code extraKeys} (", \"key\": value" or "") is appended at the top level.
     */
    public static List<String> pullKvFlags(String role, String engineId, int kvPort, String extraKeys) {
        return List.of("--kv-transfer-config", "{\"kv_connector\":\"MooncakeConnectorV1\",\"kv_buffer_device\":\"npu\","
                + "\"kv_role\":\"" + role + "\",\"kv_parallel_size\":1,\"kv_port\":\"" + kvPort + "\",\"engine_id\":\""
                + engineId + "\",\"kv_connector_extra_config\":{\"prefill\":{\"dp_size\":1,\"tp_size\":1},"
                + "\"decode\":{\"dp_size\":1,\"tp_size\":1}}" + extraKeys + "}");
    }

    /** The flags every instance of the guide gets. */
    public static List<String> commonFlags() {
        return List.of("--served-model-name", SERVED_NAME, "--enforce-eager", "--enable-request-id-headers",
                "--max-model-len", "32768", "--max-num-seqs", "128");
    }

    public List<String> encoderFlags() {
        List<String> flags = new ArrayList<>(List.of("--gpu-memory-utilization", "0.01", "--no-enable-prefix-caching",
                "--max-num-batched-tokens", "114688"));
        flags.addAll(ecFlags("ec_producer"));
        return flags;
    }

    public List<String> ecFlags(String role) {
        return List.of("--ec-transfer-config", "{\"ec_connector\":\"ECExampleConnector\",\"ec_role\":\"" + role
                + "\",\"ec_connector_extra_config\":{\"shared_storage_path\":\"" + ecCache + "\"}}");
    }

    public List<String> kvFlags(String role, String engineId) {
        return List.of("--kv-transfer-config", "{\"kv_connector\":\"MooncakeLayerwiseConnector\",\"kv_role\":\""
                + role + "\",\"kv_port\":\"" + kvPort + "\",\"engine_id\":\"" + engineId + "\","
                + "\"kv_connector_module_path\":\"vllm_ascend.distributed.mooncake_layerwise_connector\","
                + "\"kv_connector_extra_config\":{\"use_ascend_direct\":true,\"prefill\":{\"dp_size\":1,\"tp_size\":1},"
                + "\"decode\":{\"dp_size\":1,\"tp_size\":1}}}");
    }

    private void add(Path dir, String name, String devices, List<String> roleFlags, Map<String, String> env) {
        nodes.add(SimNode.builder(dir).name(name).flags(commonFlags()).flags(roleFlags)
                .env("ASCEND_RT_VISIBLE_DEVICES", devices).env(env).start());
    }

    public Path ecCache() {
        return ecCache;
    }

    /** The KV port (1E1P1D only): the decode instance's (layerwise), the prefill instance's handshake (pull). */
    public int kvPort() {
        return kvPort;
    }

    public List<SimNode> nodes() {
        return List.copyOf(nodes);
    }

    public SimNode node(String name) {
        return find(name).orElseThrow(() -> new IllegalArgumentException("no node " + name + " in " + nodes));
    }

    public Optional<SimNode> find(String name) {
        return nodes.stream().filter(node -> node.name().equals(name)).findFirst();
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (SimNode node : nodes) {
            try {
                node.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
