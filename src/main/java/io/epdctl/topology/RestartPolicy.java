package io.epdctl.topology;

import java.util.Arrays;
import java.util.List;

/**
 * What the supervisor on a node's host does when the node's script exits: {@code on-failure} starts it again
 * (after a backoff, until a crash loop) when it exited non-zero or by a signal, once epdctl has seen it ready;
 * {@code never} leaves it dead.
 */
public enum RestartPolicy {
    ON_FAILURE("on-failure"),
    NEVER("never");

    private final String yamlName;

    RestartPolicy(String yamlName) {
        this.yamlName = yamlName;
    }

    public String yamlName() {
        return yamlName;
    }

    /** The policy spelt as in the file, or null. */
    public static RestartPolicy fromYaml(String name) {
        return Arrays.stream(values()).filter(policy -> policy.yamlName.equals(name)).findFirst().orElse(null);
    }

    public static List<String> yamlNames() {
        return Arrays.stream(values()).map(RestartPolicy::yamlName).toList();
    }
}
