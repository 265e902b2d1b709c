package io.epdctl.topology;

import java.util.Map;

/**
 * How prefill nodes hand the KV cache to decode nodes. {@code modulePath} is optional (the connector
 * is registered by name); {@code extraConfig} is merged into {@code kv_connector_extra_config}.
 */
public record KvTransfer(String connector, int kvPort, String modulePath, Map<String, Object> extraConfig) {
    public static final String LAYERWISE_CONNECTOR = "MooncakeLayerwiseConnector";
    /** vLLM-Ascend's pull-mode Mooncake connector (kv_p2p/mooncake_connector.py). */
    public static final String PULL_CONNECTOR = "MooncakeConnectorV1";

    /**
     * The flow of this connector, the one place it is decided. A connector epdctl does not know is taken as
     * layerwise, as before (validation warns about it).
     */
    public KvFlow flow() {
        return PULL_CONNECTOR.equals(connector) ? KvFlow.PULL : KvFlow.LAYERWISE;
    }

    /** Whether epdctl knows the connector's flow and ports (the layerwise and the pull connector). */
    public boolean knownConnector() {
        return LAYERWISE_CONNECTOR.equals(connector) || PULL_CONNECTOR.equals(connector);
    }
}
