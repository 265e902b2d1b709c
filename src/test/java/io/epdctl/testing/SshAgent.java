package io.epdctl.testing;

import java.io.File;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** A real ssh-agent in the foreground on a temp socket; {@link #close()} kills it and its children. */
public final class SshAgent implements AutoCloseable {
    private final Path dir;
    private final Path socket;
    private final Process agent;

    private SshAgent(Path dir, Path socket, Process agent) {
        this.dir = dir;
        this.socket = socket;
        this.agent = agent;
    }

    public static SshAgent start() throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("epdctl-agent");
        Path socket = dir.resolve("agent.sock");
        Process agent = new ProcessBuilder("ssh-agent", "-D", "-a", socket.toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        SshAgent started = new SshAgent(dir, socket, agent);
        Instant deadline = Instant.now().plusSeconds(20);
        // The socket file exists from ssh-agent's bind, before it listens: until a connection is accepted,
        // ssh-add and the tests would be refused (SshFromJarIT was, once, under load).
        while (!accepts(socket)) {
            if (!agent.isAlive() || Instant.now().isAfter(deadline)) {
                started.close();
                throw new IllegalStateException("ssh-agent did not accept connections on its socket " + socket);
            }
            Thread.sleep(10);
        }
        return started;
    }

    private static boolean accepts(Path socket) {
        if (!Files.exists(socket)) {
            return false;
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return probe.isConnected();
        } catch (IOException refused) {
            return false;
        }
    }

    public String socket() {
        return socket.toString();
    }

    /** ssh-add {@code key}; the passphrase (if any) reaches ssh-add through an askpass script, not its arguments. */
    public void add(Path key, String passphrase) throws IOException, InterruptedException {
        Path askpass = dir.resolve("askpass");
        Path secret = dir.resolve("passphrase");
        Files.writeString(secret, passphrase == null ? "" : passphrase);
        Files.writeString(askpass, "#!/bin/sh\ncat '" + secret + "'\n");
        Files.setPosixFilePermissions(askpass, PosixFilePermissions.fromString("rwx------"));
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        ProcessBuilder builder = new ProcessBuilder("ssh-add", key.toString())
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().put("SSH_AUTH_SOCK", socket.toString());
        builder.environment().put("SSH_ASKPASS", askpass.toString());
        builder.environment().put("SSH_ASKPASS_REQUIRE", "force");
        builder.environment().put("DISPLAY", ":0");
        Process add = builder.start();
        String output = new String(add.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!add.waitFor(30, TimeUnit.SECONDS) || add.exitValue() != 0) {
            add.destroyForcibly();
            throw new IOException("ssh-add " + key + " failed: " + output);
        }
    }

    @Override
    public void close() throws InterruptedException {
        agent.descendants().forEach(ProcessHandle::destroyForcibly);
        agent.destroy();
        if (!agent.waitFor(10, TimeUnit.SECONDS)) {
            agent.destroyForcibly().waitFor();
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temp dir left behind is harmless
        }
    }
}
