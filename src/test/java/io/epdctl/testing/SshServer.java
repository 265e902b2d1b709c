package io.epdctl.testing;

import io.epdctl.transport.HostTarget;
import io.epdctl.transport.SshOptions;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real OpenSSH server for tests, on a loopback address of its own (all of 127/8 is this machine, so
 * several servers stand for several hosts) and a free port, with generated keys: an ed25519 host key,
 * client keys (ed25519, RSA, and a passphrase-protected ed25519 one) allowed to log in as the current
 * user, and a known_hosts file that knows the host key. Every process started through it carries a
 * marker in its environment (sshd's SetEnv), so {@link #close()} finds and stops them all, even
 * commands that detached from their session.
 */
public final class SshServer implements AutoCloseable {
    /** The passphrase of {@link #encryptedKey()}; a throwaway test key. */
    public static final String PASSPHRASE = "test passphrase";
    private static final String SSHD = "/usr/sbin/sshd";
    private static final Duration START_WAIT = Duration.ofSeconds(20);

    private final Path dir;
    private final String address;
    private final String marker = "EPDCTL_TEST_SSHD=" + UUID.randomUUID();
    private final boolean userLoginScripts;
    private int port;
    private Process sshd;

    private SshServer(Path dir, String address, boolean userLoginScripts) {
        this.dir = dir;
        this.address = address;
        this.userLoginScripts = userLoginScripts;
    }

    /** Generates the keys and starts sshd on {@code address} (e.g. 127.0.0.2); fails if sshd is missing. */
    public static SshServer start(String address) throws IOException, InterruptedException {
        return start(address, true);
    }

    /**
     * With {@code userLoginScripts} false, sessions get an empty HOME (sshd's SetEnv), so the login shell
     * runs none of this machine's user's start-up files: a host whose ~/.bashrc returns at once for
     * non-interactive shells, as distributions' default one does. The working directory stays the real home.
     */
    public static SshServer start(String address, boolean userLoginScripts) throws IOException, InterruptedException {
        if (!Files.isExecutable(Path.of(SSHD))) {
            throw new IllegalStateException(SSHD + " is missing: install openssh-server (bin/test does)");
        }
        SshServer server = new SshServer(Files.createTempDirectory("epdctl-sshd"), address, userLoginScripts);
        try {
            server.keygen("ssh_host_ed25519_key", "ed25519", "");
            server.keygen("id_ed25519", "ed25519", "");
            server.keygen("id_rsa", "rsa", "");
            server.keygen("id_encrypted", "ed25519", PASSPHRASE);
            Files.writeString(server.dir.resolve("authorized_keys"), String.join("",
                    Files.readString(server.dir.resolve("id_ed25519.pub")),
                    Files.readString(server.dir.resolve("id_rsa.pub")),
                    Files.readString(server.dir.resolve("id_encrypted.pub"))));
            server.startSshd();
            Files.writeString(server.knownHosts(), server.knownHostsLine());
            return server;
        } catch (IOException | InterruptedException | RuntimeException e) {
            server.close();
            throw e;
        }
    }

    public String address() {
        return address;
    }

    public int port() {
        return port;
    }

    /** The login user: the one running the tests (root in CI), whom sshd lets in with the generated keys. */
    public String user() {
        return System.getProperty("user.name");
    }

    public Path dir() {
        return dir;
    }

    /**
     * The sessions' HOME when started without the user's login scripts: a test that wants start-up files
     * (a ~/.bashrc) creates it and puts them there; without it, the login shell finds none.
     */
    public Path home() {
        return dir.resolve("home");
    }

    public Path ed25519Key() {
        return dir.resolve("id_ed25519");
    }

    public Path rsaKey() {
        return dir.resolve("id_rsa");
    }

    /** Protected by {@link #PASSPHRASE}. */
    public Path encryptedKey() {
        return dir.resolve("id_encrypted");
    }

    /** A known_hosts file holding this server's current host key, as {@code [address]:port}. */
    public Path knownHosts() {
        return dir.resolve("known_hosts");
    }

    public String knownHostsName() {
        return "[" + address + "]:" + port;
    }

    /** {@code ssh-ed25519 SHA256:...}, from ssh-keygen, for comparing with messages. */
    public String hostKeyFingerprint() throws IOException, InterruptedException {
        String[] line = run(List.of("ssh-keygen", "-l", "-E", "sha256", "-f", dir.resolve("ssh_host_ed25519_key.pub").toString()))
                .trim().split(" ");
        return line[1];
    }

    /** A transport target for this server that logs in with {@code identityFile} (null: from options/config). */
    public HostTarget host(String name, Path identityFile) {
        return new HostTarget(name, address, false, user(), port, identityFile == null ? null : identityFile.toString());
    }

    /** Options that read nothing of the user's own ~/.ssh: this server's known_hosts, no agent, no config. */
    public SshOptions options() {
        return new SshOptions(knownHosts(), false, List.of(), null, List.of(), Duration.ofSeconds(10));
    }

    /** Stops sshd and its open sessions: the host cannot be reached over SSH until {@link #resume()}. What they started detached runs on. */
    public void pause() throws InterruptedException {
        stopSshd();
    }

    /** Starts sshd again after {@link #pause()}, on the same address and port with the same host key. */
    public void resume() throws IOException, InterruptedException {
        launch(port);
    }

    /** Restarts sshd on the same address and port with a new host key (the known_hosts file keeps the old one). */
    public void replaceHostKey() throws IOException, InterruptedException {
        stopSshd();
        Files.delete(dir.resolve("ssh_host_ed25519_key"));
        Files.delete(dir.resolve("ssh_host_ed25519_key.pub"));
        keygen("ssh_host_ed25519_key", "ed25519", "");
        launch(port);
    }

    /** Every live process started through this server: sshd's session processes and what they started, detached or not. */
    public List<ProcessHandle> sessionProcesses() {
        List<ProcessHandle> found = new ArrayList<>();
        try (Stream<Path> proc = Files.list(Path.of("/proc"))) {
            proc.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).forEach(p -> {
                try {
                    byte[] environ = Files.readAllBytes(p.resolve("environ"));
                    if (new String(environ, StandardCharsets.ISO_8859_1).contains(marker)) {
                        ProcessHandle.of(Long.parseLong(p.getFileName().toString())).ifPresent(found::add);
                    }
                } catch (IOException | RuntimeException e) {
                    // The process ended while we looked, or is not ours to read.
                }
            });
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc", e);
        }
        if (sshd != null) {
            sshd.descendants().filter(ProcessHandle::isAlive).filter(h -> !found.contains(h)).forEach(found::add);
        }
        return found;
    }

    /** Waits (bounded) until sshd has no session left, e.g. after a transport closed its connection. */
    public void awaitNoSessions() throws InterruptedException {
        Instant deadline = Instant.now().plus(START_WAIT);
        while (sshd.descendants().anyMatch(ProcessHandle::isAlive)) {
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("sshd sessions still open after " + START_WAIT.toSeconds() + " s: "
                        + sshd.descendants().map(SshServer::describe).toList());
            }
            Thread.sleep(20);
        }
    }

    /** Stops sshd, then every process started through it (checked in the process table), and deletes the keys. */
    @Override
    public void close() {
        try {
            stopSshd();
            for (int round = 0; round < 50; round++) {
                List<ProcessHandle> left = sessionProcesses();
                if (left.isEmpty()) {
                    break;
                }
                left.forEach(ProcessHandle::destroyForcibly);
                Thread.sleep(20);
            }
            List<ProcessHandle> left = sessionProcesses();
            if (!left.isEmpty()) {
                throw new IllegalStateException("processes of the test sshd survived SIGKILL: "
                        + left.stream().map(SshServer::describe).toList());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            deleteRecursively(dir);
        }
    }

    static String describe(ProcessHandle process) {
        return process.pid() + " " + process.info().commandLine().orElse("?");
    }

    private void startSshd() throws IOException, InterruptedException {
        Files.createDirectories(Path.of("/run/sshd")); // sshd's privilege separation directory
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            try {
                launch(freePort());
                return;
            } catch (IOException e) {
                last = e; // another test grabbed the port between our probe and sshd's bind
            }
        }
        throw last;
    }

    private int freePort() {
        return FreePorts.pick(address);
    }

    private void launch(int port) throws IOException, InterruptedException {
        this.port = port;
        Path config = dir.resolve("sshd_config");
        Files.writeString(config, String.join("\n",
                "ListenAddress " + address,
                "Port " + port,
                "HostKey " + dir.resolve("ssh_host_ed25519_key"),
                "AuthorizedKeysFile " + dir.resolve("authorized_keys"),
                "PidFile " + dir.resolve("sshd.pid"),
                "StrictModes no",
                "UsePAM no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "LogLevel VERBOSE",
                "SetEnv " + marker + (userLoginScripts ? "" : " HOME=" + home()),
                ""));
        Path log = dir.resolve("sshd.log");
        sshd = new ProcessBuilder(SSHD, "-D", "-e", "-f", config.toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        Instant deadline = Instant.now().plus(START_WAIT);
        while (true) {
            if (!sshd.isAlive()) {
                throw new IOException("sshd on " + address + ":" + port + " exited with " + sshd.exitValue() + ":\n" + Files.readString(log));
            }
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(address, port), 1000);
                return;
            } catch (IOException notYet) {
                if (Instant.now().isAfter(deadline)) {
                    stopSshd();
                    throw new IllegalStateException("sshd did not accept connections on " + address + ":" + port + ":\n" + Files.readString(log));
                }
                Thread.sleep(20);
            }
        }
    }

    private void stopSshd() throws InterruptedException {
        if (sshd == null) {
            return;
        }
        // Sessions first, while sshd still reaps them: orphaned, they would linger as zombies.
        List<ProcessHandle> sessions = sshd.descendants().toList();
        sessions.forEach(ProcessHandle::destroyForcibly);
        ProcessTable.awaitGone(() -> sessions);
        sshd.destroy();
        if (!sshd.waitFor(10, TimeUnit.SECONDS)) {
            sshd.destroyForcibly().waitFor();
        }
        sshd = null;
    }

    private String knownHostsLine() throws IOException {
        String[] publicKey = Files.readString(dir.resolve("ssh_host_ed25519_key.pub")).trim().split(" ");
        return knownHostsName() + " " + publicKey[0] + " " + publicKey[1] + "\n";
    }

    private void keygen(String name, String type, String passphrase) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("ssh-keygen", "-q", "-t", type, "-N", passphrase,
                "-C", "epdctl-test-" + name, "-f", dir.resolve(name).toString()));
        if (type.equals("rsa")) {
            command.addAll(List.of("-b", "2048")); // fast to generate; the test is about the key type, not its strength
        }
        run(command);
    }

    private static String run(List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (process.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + output);
        }
        return output;
    }

    private static void deleteRecursively(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temp dir left behind is harmless
        }
    }
}
