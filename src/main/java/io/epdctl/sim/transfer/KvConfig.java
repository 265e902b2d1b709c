package io.epdctl.sim.transfer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * {@code --kv-transfer-config}. {@code prefill} and {@code decode} are the parallel sizes the connector's extra
 * config declares for each side ({@code {dp_size, tp_size}}), when given. {@code loadFailurePolicy} is vLLM's
 * {@code kv_load_failure_policy}: {@code fail} (the default: a request whose KV cannot be loaded fails) or
 * {@code recompute} (it is computed locally instead).
 */
public record KvConfig(String connector, String role, int kvPort, String engineId,
        Optional<Parallelism> prefill, Optional<Parallelism> decode, String loadFailurePolicy) {
    public static final String LAYERWISE_CONNECTOR = "MooncakeLayerwiseConnector";
    public static final String PULL_CONNECTOR = "MooncakeConnectorV1";
    private static final String CLASS = "KVTransferConfig";
    private static final Set<String> KEYS = Set.of("kv_connector", "engine_id", "kv_buffer_device", "kv_buffer_size",
            "kv_role", "kv_rank", "kv_parallel_size", "kv_ip", "kv_port", "kv_connector_extra_config",
            "kv_connector_module_path", "enable_permute_local_kv", "kv_load_failure_policy");
    private static final int DEFAULT_KV_PORT = 14579;

    /** One side's layout: data-parallel ranks times tensor-parallel ranks. */
    public record Parallelism(int dpSize, int tpSize) {
    }

    public static KvConfig parse(String json) throws TransferConfigError {
        ObjectNode node = ConfigJson.object(json, CLASS, KEYS);
        String role = ConfigJson.oneOf(node, "kv_role", CLASS, Set.of("kv_producer", "kv_consumer", "kv_both"));
        String connector = ConfigJson.string(node, "kv_connector", CLASS, null);
        if (connector == null) {
            throw new TransferConfigError(ConfigJson.problem(CLASS, "kv_connector",
                    "kv_connector must be set when kv_role is set"));
        }
        String engineId = ConfigJson.string(node, "engine_id", CLASS, UUID.randomUUID().toString());
        ObjectNode extra = ConfigJson.object(node, "kv_connector_extra_config", CLASS);
        String policy = node.has("kv_load_failure_policy")
                ? ConfigJson.oneOf(node, "kv_load_failure_policy", CLASS, Set.of("recompute", "fail")) : "fail";
        return new KvConfig(connector, role, kvPort(node.get("kv_port")), engineId,
                parallelism(extra, "prefill"), parallelism(extra, "decode"), policy);
    }

    /** An int, or a string of digits as pydantic's lax mode coerces it (the guide writes "50001"). */
    private static int kvPort(JsonNode value) throws TransferConfigError {
        if (value == null || value.isNull()) {
            return DEFAULT_KV_PORT;
        }
        if (value.isInt() || (value.isTextual() && value.asText().strip().matches("[0-9]{1,9}"))) {
            return value.isInt() ? value.asInt() : Integer.parseInt(value.asText().strip());
        }
        throw new TransferConfigError(ConfigJson.problem(CLASS, "kv_port",
                "Input should be a valid integer [input_value=" + value + "]"));
    }

    private static Optional<Parallelism> parallelism(ObjectNode extra, String side) throws TransferConfigError {
        JsonNode node = extra.get(side);
        if (node == null) {
            return Optional.empty();
        }
        if (!node.isObject() || !node.path("dp_size").isInt() || !node.path("tp_size").isInt()) {
            throw new TransferConfigError(ConfigJson.problem(CLASS, "kv_connector_extra_config." + side,
                    "expected {\"dp_size\": int, \"tp_size\": int}, got " + node));
        }
        return Optional.of(new Parallelism(node.get("dp_size").asInt(), node.get("tp_size").asInt()));
    }

    /** MooncakeConnectorV1: the decoder pulls from the prefiller (rather than the prefiller pushing, layerwise). */
    public boolean pull() {
        return connector.equals(PULL_CONNECTOR);
    }

    public boolean recomputeOnLoadFailure() {
        return loadFailurePolicy.equals("recompute");
    }

    public boolean producer() {
        return role.equals("kv_producer") || role.equals("kv_both");
    }

    public boolean consumer() {
        return role.equals("kv_consumer") || role.equals("kv_both");
    }
}
