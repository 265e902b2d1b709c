package io.epdctl.topology;

import java.util.List;
import java.util.Map;

/**
 * The {@code vllm} section: applies to every node. {@code setup} lines are shell code, run as written;
 * {@code restart} is the policy of every node that does not set its own.
 */
public record VllmSettings(String command, Map<String, String> env, List<String> setup, Map<String, ArgValue> args,
        RestartPolicy restart) {
}
