package io.epdctl.topology;

import java.util.List;
import java.util.Map;

/**
 * The proxy in front of the nodes. With a {@code script}, an upstream example proxy is run by {@code python}:
 * {@code kind} says which one (from {@code proxy.kind}, or the script's file name), and so how it is told its
 * backends; without one, epdctl's built-in proxy is run by {@code command} ({@code kind} null). {@code restart}
 * is its policy, on-failure unless the file says otherwise (the built-in proxy takes a node that went away back
 * once it is healthy, so a restarted proxy serves again with no help).
 */
public record ProxySpec(
        String host,
        int port,
        String script,
        ProxyKind kind,
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

    /** The built-in proxy, or a script proxy whose kind its file name tells. */
    public ProxySpec(String host, int port, String script, String python, String command, Map<String, String> env,
            List<String> setup, Map<String, ArgValue> args, RestartPolicy restart) {
        this(host, port, script, script == null ? null : ProxyKind.ofScript(script).orElse(null), python, command, env,
                setup, args, restart);
    }

    public boolean isBuiltIn() {
        return script == null;
    }
}
