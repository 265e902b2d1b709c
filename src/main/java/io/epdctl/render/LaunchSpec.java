package io.epdctl.render;

import java.util.List;
import java.util.Map;

/**
 * Everything needed to start one process of a deployment on its host: the environment it gets,
 * the operator's setup lines (shell code, run as written), the directories it needs, and its argv.
 * {@code devices} is empty for the proxy.
 */
public record LaunchSpec(
        String name,
        String role,
        String host,
        String address,
        int port,
        List<Integer> devices,
        Map<String, String> env,
        List<String> setup,
        List<String> directories,
        List<String> argv) {
}
