package io.epdctl.lifecycle;

import io.epdctl.topology.Host;
import java.nio.file.Path;
import java.util.Map;

/**
 * Where a deployment's scripts, logs and pid files live on each host: under the local state directory for
 * hosts run locally, under {@code remoteRoot} (relative paths are below the SSH user's home) for the others.
 */
public record RunDirectories(String deployment, Path localRoot, String remoteRoot, Map<String, Host> hosts) {

    public static final String DEFAULT_REMOTE_ROOT = ".epdctl/run";

    public String on(String host) {
        if (hosts.get(host).isLocal()) {
            return localRoot.resolve(deployment).resolve("run").toAbsolutePath().toString();
        }
        return remoteRoot + "/" + deployment;
    }
}
