package io.epdctl.sim.transfer;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Set;

/** {@code --ec-transfer-config}: which encoder-cache connector, and whether this instance writes or reads. */
public record EcConfig(String connector, String role, Path sharedStoragePath) {
    private static final String CLASS = "ECTransferConfig";
    private static final Set<String> KEYS = Set.of("ec_connector", "engine_id", "ec_buffer_device", "ec_buffer_size",
            "ec_role", "ec_rank", "ec_parallel_size", "ec_ip", "ec_port", "ec_connector_extra_config",
            "ec_connector_module_path");

    public static EcConfig parse(String json) throws TransferConfigError {
        ObjectNode node = ConfigJson.object(json, CLASS, KEYS);
        String role = ConfigJson.oneOf(node, "ec_role", CLASS, Set.of("ec_producer", "ec_consumer", "ec_both"));
        String connector = ConfigJson.string(node, "ec_connector", CLASS, null);
        if (connector == null) {
            throw new TransferConfigError(ConfigJson.problem(CLASS, "ec_connector",
                    "ec_connector must be set when ec_role is set"));
        }
        ObjectNode extra = ConfigJson.object(node, "ec_connector_extra_config", CLASS);
        String path = ConfigJson.string(extra, "shared_storage_path", CLASS, "/tmp");
        return new EcConfig(connector, role, Path.of(path));
    }

    public boolean producer() {
        return role.equals("ec_producer") || role.equals("ec_both");
    }

    public boolean consumer() {
        return role.equals("ec_consumer") || role.equals("ec_both");
    }
}
