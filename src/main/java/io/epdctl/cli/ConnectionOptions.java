package io.epdctl.cli;

import io.epdctl.lifecycle.HostTargets;
import io.epdctl.state.DeploymentState;
import io.epdctl.topology.Topology;
import io.epdctl.transport.HostConnections;
import io.epdctl.transport.HostTarget;
import io.epdctl.transport.SshOptions;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * How epdctl reaches the hosts: the SSH settings every command that touches hosts shares. By default what
 * {@code ssh} would use: ~/.ssh/known_hosts, ~/.ssh/config, the agent at $SSH_AUTH_SOCK, ~/.ssh/id_ed25519
 * and id_rsa.
 */
public final class ConnectionOptions {
    @Option(names = "--accept-new-host-keys",
            description = "Add the keys of SSH hosts not yet in known_hosts (a changed key is always refused).")
    boolean acceptNewHostKeys;

    @Option(names = "--known-hosts", paramLabel = "FILE", description = "The known_hosts file (default: ~/.ssh/known_hosts).")
    Path knownHosts;

    @Option(names = "--ssh-config", paramLabel = "FILE",
            description = "The ssh_config file to read instead of ~/.ssh/config and /etc/ssh/ssh_config.")
    Path sshConfig;

    /** Opens one transport per host, all at once; unreachable hosts are reported by the caller. */
    public HostConnections open(Collection<HostTarget> hosts) throws InterruptedException {
        return HostConnections.open(hosts, sshOptions());
    }

    /**
     * The connections a change of {@code topology} needs: its hosts and those {@code recorded} (null: nothing) runs on;
     * each host that cannot be reached is said on {@code err}.
     */
    public HostConnections openForChange(Topology topology, DeploymentState recorded, PrintWriter err) throws InterruptedException {
        HostConnections connections = open(HostTargets.forChange(topology.hosts(), recorded));
        connections.failures().forEach((host, why) -> err.println("epdctl: " + why.getMessage()));
        return connections;
    }

    private SshOptions sshOptions() {
        SshOptions defaults = SshOptions.defaults();
        List<Path> configs = sshConfig != null ? List.of(sshConfig) : new ArrayList<>(defaults.sshConfigs());
        return new SshOptions(knownHosts != null ? knownHosts : defaults.knownHosts(), acceptNewHostKeys, configs,
                defaults.agentSocket(), defaults.defaultIdentities(), defaults.connectTimeout());
    }
}
