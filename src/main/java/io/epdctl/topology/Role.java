package io.epdctl.topology;

import java.util.Arrays;
import java.util.List;

/** What a node runs. The EC and KV roles follow from it; the operator never writes them. */
public enum Role {
    ENCODER("encoder", "ec_producer", null),
    PD("pd", "ec_consumer", null),
    PREFILL("prefill", "ec_consumer", "kv_producer"),
    DECODE("decode", null, "kv_consumer");

    private final String yamlName;
    private final String ecRole;
    private final String kvRole;

    Role(String yamlName, String ecRole, String kvRole) {
        this.yamlName = yamlName;
        this.ecRole = ecRole;
        this.kvRole = kvRole;
    }

    /** The spelling in the topology file and in messages. */
    public String yamlName() {
        return yamlName;
    }

    /** {@code ec_role} of --ec-transfer-config, or null when the node takes no part in the EC hand-off. */
    public String ecRole() {
        return ecRole;
    }

    /** {@code kv_role} of --kv-transfer-config, or null when the node takes no part in the KV hand-off. */
    public String kvRole() {
        return kvRole;
    }

    public static List<String> yamlNames() {
        return Arrays.stream(values()).map(Role::yamlName).toList();
    }

    public static Role fromYaml(String name) {
        for (Role role : values()) {
            if (role.yamlName.equals(name)) {
                return role;
            }
        }
        return null;
    }
}
