package io.epdctl.topology;

import java.util.List;
import java.util.Map;

/**
 * The proxy in front of the nodes. With a {@code script}, the vLLM-Ascend example proxy is run by
 * {@code python}; without one, epdctl's built-in proxy is run by {@code command}. {@code restart} is its
 * policy, on-failure unless the file says otherwise (the built-in proxy takes a node that went away back
 * once it is healthy, so a restarted proxy serves again with no help).
 */
public record ProxySpec(
        String host,
        int port,
        String script,
        String python,
        String command,
        Map<String, String> env,
        List<String> setup,
        Map<String, ArgValue> args,
        RestartPolicy restart) {

    /** The proxy's name in scripts, logs and the state; no node may have it. */
    public static final String NAME = "proxy";
    /** The name of the built-in proxy that serves between the old one and the new one during a hand-over. */
    public static final String HANDOVER_NAME = "proxy-next";

    public boolean isBuiltIn() {
        return script == null;
    }
}
