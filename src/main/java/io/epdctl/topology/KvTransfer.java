package io.epdctl.topology;

import java.util.Map;

/**
 * How prefill nodes hand the KV cache to decode nodes. {@code modulePath} is optional (the connector
 * is registered by name); {@code extraConfig} is merged into {@code kv_connector_extra_config}.
 */
public record KvTransfer(String connector, int kvPort, String modulePath, Map<String, Object> extraConfig) {
    public static final String LAYERWISE_CONNECTOR = "MooncakeLayerwiseConnector";
}
