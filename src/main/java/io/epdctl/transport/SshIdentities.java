package io.epdctl.transport;

import com.jcraft.jsch.AgentIdentityRepository;
import com.jcraft.jsch.AgentProxyException;
import com.jcraft.jsch.Identity;
import com.jcraft.jsch.IdentityRepository;
import com.jcraft.jsch.JSch;
import com.jcraft.jsch.JSchException;
import com.jcraft.jsch.SSHAgentConnector;
import com.jcraft.jsch.UnixDomainSocketFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Vector;

/**
 * The keys offered to one host, in OpenSSH's order: the key files (the agent's copy when the agent
 * holds the same key), then the agent's other keys. A passphrase-protected file the agent does not
 * hold is left out: epdctl runs unattended and in parallel, so it never asks for passphrases.
 */
final class SshIdentities implements IdentityRepository {
    private final List<Identity> offered;
    private final List<String> tried;
    private final List<Path> encryptedWithoutAgent;
    private final String agentProblem;

    private SshIdentities(List<Identity> offered, List<String> tried, List<Path> encryptedWithoutAgent, String agentProblem) {
        this.offered = offered;
        this.tried = tried;
        this.encryptedWithoutAgent = encryptedWithoutAgent;
        this.agentProblem = agentProblem;
    }

    static SshIdentities load(SshTarget target, SshOptions options) throws TransportException {
        List<Identity> agentKeys = new ArrayList<>();
        String agentProblem = null;
        if (options.agentSocket() == null) {
            agentProblem = "no ssh-agent (SSH_AUTH_SOCK is not set)";
        } else {
            try {
                AgentIdentityRepository agent = new AgentIdentityRepository(
                        new SSHAgentConnector(new UnixDomainSocketFactory(), Path.of(options.agentSocket())));
                agentKeys.addAll(agent.getIdentities());
            } catch (AgentProxyException | RuntimeException e) {
                agentProblem = "ssh-agent at " + options.agentSocket() + " did not answer (" + e.getMessage() + ")";
            }
        }

        List<Identity> offered = new ArrayList<>();
        List<String> tried = new ArrayList<>();
        List<Path> encryptedWithoutAgent = new ArrayList<>();
        JSch loader = new JSch();
        for (Path file : target.existingIdentityFiles()) {
            Identity key = readKeyFile(loader, file, target);
            Identity agentCopy = agentKeys.stream()
                    .filter(a -> Arrays.equals(a.getPublicKeyBlob(), key.getPublicKeyBlob()))
                    .findFirst().orElse(null);
            if (agentCopy != null) {
                agentKeys.remove(agentCopy);
                offered.add(agentCopy);
                tried.add(file + " (via ssh-agent)");
            } else if (key.isEncrypted()) {
                encryptedWithoutAgent.add(file);
            } else {
                offered.add(key);
                tried.add(file.toString());
            }
        }
        for (Identity key : agentKeys) {
            offered.add(key);
            tried.add("ssh-agent key " + key.getName() + " (" + key.getAlgName() + ")");
        }
        return new SshIdentities(List.copyOf(offered), List.copyOf(tried), List.copyOf(encryptedWithoutAgent), agentProblem);
    }

    private static Identity readKeyFile(JSch loader, Path file, SshTarget target) throws TransportException {
        try {
            loader.removeAllIdentity();
            loader.addIdentity(file.toString());
            return loader.getIdentityRepository().getIdentities().get(0);
        } catch (JSchException e) {
            throw new TransportException(target.host() + ": cannot read key file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Why the server refused every key, and what to do about it. */
    String loginRefused(String where) {
        StringBuilder message = new StringBuilder(where).append(": login refused: ");
        if (tried.isEmpty()) {
            message.append("no key to offer");
        } else {
            message.append("no key accepted; tried ").append(String.join(", ", tried));
        }
        for (Path file : encryptedWithoutAgent) {
            message.append("; ").append(file).append(" is passphrase-protected and ssh-agent does not hold it")
                    .append(" (epdctl never asks for passphrases: run ssh-add ").append(file).append(')');
        }
        if (agentProblem != null) {
            message.append("; ").append(agentProblem);
        }
        return message.toString();
    }

    @Override
    public String getName() {
        return "epdctl";
    }

    @Override
    public int getStatus() {
        return RUNNING;
    }

    @Override
    public Vector<Identity> getIdentities() {
        return new Vector<>(offered);
    }

    @Override
    public boolean add(byte[] identity) {
        return false; // the offered keys are fixed per connection
    }

    @Override
    public boolean remove(byte[] blob) {
        return false;
    }

    @Override
    public void removeAll() {
        // the offered keys are fixed per connection
    }
}
