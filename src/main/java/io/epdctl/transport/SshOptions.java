package io.epdctl.transport;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Where the SSH transport finds what OpenSSH would: the known_hosts file, the ssh_config files
 * (the user's first, then the system's; the first value found wins, as in OpenSSH), the agent socket
 * and the keys tried when neither the topology nor the config names one. Tests point every field at
 * temp files.
 *
 * @param knownHosts         checked for every host key; new keys are appended here when accepted
 * @param acceptNewHostKeys  a host not yet in known_hosts is added (a changed key is still refused)
 * @param sshConfigs         ssh_config files read for HostName, User, Port, IdentityFile, HashKnownHosts
 * @param agentSocket        the ssh-agent socket ({@code SSH_AUTH_SOCK}), or null for no agent
 * @param defaultIdentities  key files tried when neither the topology nor the config names one
 * @param connectTimeout     bound on TCP connect plus the SSH handshake and login
 */
public record SshOptions(
        Path knownHosts,
        boolean acceptNewHostKeys,
        List<Path> sshConfigs,
        String agentSocket,
        List<Path> defaultIdentities,
        Duration connectTimeout) {

    public SshOptions {
        sshConfigs = List.copyOf(sshConfigs);
        defaultIdentities = List.copyOf(defaultIdentities);
    }

    /** What {@code ssh} would use for the current user. */
    public static SshOptions defaults() {
        Path ssh = Path.of(System.getProperty("user.home"), ".ssh");
        String agent = System.getenv("SSH_AUTH_SOCK");
        return new SshOptions(
                ssh.resolve("known_hosts"),
                false,
                List.of(ssh.resolve("config"), Path.of("/etc/ssh/ssh_config")),
                agent == null || agent.isBlank() ? null : agent,
                List.of(ssh.resolve("id_ed25519"), ssh.resolve("id_rsa")),
                Duration.ofSeconds(10));
    }

    public SshOptions withAcceptNewHostKeys(boolean accept) {
        return new SshOptions(knownHosts, accept, sshConfigs, agentSocket, defaultIdentities, connectTimeout);
    }

    List<Path> existingSshConfigs() {
        return sshConfigs.stream().filter(Files::isRegularFile).toList();
    }
}
