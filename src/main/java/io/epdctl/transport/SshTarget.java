package io.epdctl.transport;

import com.jcraft.jsch.ConfigRepository;
import com.jcraft.jsch.OpenSSHConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * Where and as whom to log in to one host, resolved from its {@link HostTarget}: the settings it carries
 * (the topology's) first, then the ssh_config files (looked up by the host's address, as {@code ssh ADDRESS}
 * would), then OpenSSH's defaults.
 *
 * @param host             the host's name in the topology, for messages
 * @param connectAddress   the address to open the TCP connection to (the config's HostName, else the address)
 * @param identityFiles    the key files to offer, in order
 * @param identityRequired the topology named the key file, so a missing file is an error, not a skip
 */
record SshTarget(
        String host,
        String connectAddress,
        int port,
        String user,
        List<Path> identityFiles,
        boolean identityRequired,
        boolean hashKnownHosts) {

    static SshTarget resolve(HostTarget host, SshOptions options) throws TransportException {
        List<ConfigRepository.Config> configs = new ArrayList<>();
        for (Path file : options.existingSshConfigs()) {
            try {
                configs.add(OpenSSHConfig.parseFile(file.toString()).getConfig(host.address()));
            } catch (IOException | RuntimeException e) {
                throw new TransportException(host.name() + ": cannot read ssh config " + file + ": " + e.getMessage(), e);
            }
        }
        String hostName = first(configs, ConfigRepository.Config::getHostname);
        String connectAddress = hostName != null ? expand(hostName, host.address(), null) : host.address();
        String configUser = first(configs, ConfigRepository.Config::getUser);
        String user = host.user() != null ? host.user()
                : configUser != null ? unquote(configUser) : System.getProperty("user.name");
        int configPort = configs.stream().mapToInt(ConfigRepository.Config::getPort).filter(p -> p > 0).findFirst().orElse(-1);
        int port = host.sshPort() != null ? host.sshPort() : configPort > 0 ? configPort : 22;

        List<Path> identities;
        boolean required = host.identityFile() != null;
        if (required) {
            identities = List.of(Path.of(expand(host.identityFile(), connectAddress, user)));
        } else {
            Set<Path> fromConfig = new LinkedHashSet<>();
            for (ConfigRepository.Config config : configs) {
                for (String value : config.getValues("IdentityFile")) {
                    fromConfig.add(Path.of(expand(value, connectAddress, user)));
                }
            }
            // As in OpenSSH, the default key files are tried only when the config names none.
            identities = fromConfig.isEmpty() ? options.defaultIdentities() : List.copyOf(fromConfig);
        }
        String hashKnownHosts = first(configs, c -> c.getValue("HashKnownHosts"));
        boolean hash = hashKnownHosts != null && "yes".equalsIgnoreCase(unquote(hashKnownHosts));
        return new SshTarget(host.name(), connectAddress, port, user, identities, required, hash);
    }

    /** The identity files that exist; a missing file the topology named is an error. */
    List<Path> existingIdentityFiles() throws TransportException {
        List<Path> existing = new ArrayList<>();
        for (Path file : identityFiles) {
            if (Files.isRegularFile(file)) {
                existing.add(file);
            } else if (identityRequired) {
                throw new TransportException(host + ": identity file " + file + " (from the topology) does not exist");
            }
        }
        return existing;
    }

    String describe() {
        return user + "@" + connectAddress + ":" + port;
    }

    private static String first(List<ConfigRepository.Config> configs, Function<ConfigRepository.Config, String> value) {
        for (ConfigRepository.Config config : configs) {
            String found = value.apply(config);
            if (found != null) {
                return found;
            }
        }
        return null;
    }

    /** The ssh_config tokens that matter for key paths and host names: ~, %d, %u, %h, %r, %%. */
    private static String expand(String value, String hostName, String remoteUser) {
        String home = System.getProperty("user.home");
        String text = unquote(value);
        if (text.equals("~") || text.startsWith("~/")) {
            text = home + text.substring(1);
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c != '%' || i + 1 == text.length()) {
                out.append(c);
                continue;
            }
            char token = text.charAt(++i);
            switch (token) {
                case 'd' -> out.append(home);
                case 'u' -> out.append(System.getProperty("user.name"));
                case 'h' -> out.append(hostName);
                case 'r' -> out.append(remoteUser == null ? "" : remoteUser);
                case '%' -> out.append('%');
                default -> out.append('%').append(token);
            }
        }
        return text.isEmpty() ? text : out.toString();
    }

    private static String unquote(String value) {
        String trimmed = value.trim();
        if (trimmed.length() >= 2 && trimmed.startsWith("\"") && trimmed.endsWith("\"")) {
            return trimmed.substring(1, trimmed.length() - 1);
        }
        return trimmed;
    }
}
