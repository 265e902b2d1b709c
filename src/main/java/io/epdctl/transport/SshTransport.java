package io.epdctl.transport;

import com.jcraft.jsch.ChannelExec;
import com.jcraft.jsch.JSch;
import com.jcraft.jsch.JSchException;
import com.jcraft.jsch.Session;
import io.epdctl.shell.Shell;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Runs commands on a host over SSH (JSch). One SSH connection per host carries every command, each
 * in its own channel; commands may run concurrently. Host keys are checked against known_hosts as
 * OpenSSH's {@code StrictHostKeyChecking yes} (or {@code accept-new}) would, and only public-key
 * login is attempted (key files and ssh-agent), never passwords or passphrase prompts.
 */
public final class SshTransport implements Transport {
    /** sshd allows 10 channels per connection by default (MaxSessions); more concurrent commands wait. */
    private static final int MAX_CONCURRENT_COMMANDS = 8;
    /** Keepalives notice a dead connection during long waits (model loading takes many minutes). */
    private static final int KEEPALIVE_MILLIS = 15_000;
    private static final int KEEPALIVE_MAX_MISSED = 4;
    private static final String LOOPBACK = "127.0.0.1";

    private final HostTarget host;
    private final SshOptions options;
    private final Semaphore commandSlots = new Semaphore(MAX_CONCURRENT_COMMANDS, true);
    private Session session; // guarded by this; replaced when the connection was lost
    private boolean closed; // guarded by this

    private SshTransport(HostTarget host, SshOptions options, Session session) {
        this.host = host;
        this.options = options;
        this.session = session;
    }

    /** Opens the connection and logs in; every failure is a {@link TransportException} that says why. */
    public static SshTransport connect(HostTarget host, SshOptions options) throws TransportException {
        return new SshTransport(host, options, openSession(host, options));
    }

    private static Session openSession(HostTarget host, SshOptions options) throws TransportException {
        SshTarget target = SshTarget.resolve(host, options);
        SshIdentities identities = SshIdentities.load(target, options);
        HostKeys hostKeys = new HostKeys(options.knownHosts(), options.acceptNewHostKeys(), target.hashKnownHosts());
        String where = host.name() + " (" + target.describe() + ")";
        try {
            Session session = new JSch().getSession(target.user(), target.connectAddress(), target.port());
            session.setHostKeyRepository(hostKeys);
            session.setIdentityRepository(identities);
            session.setConfig("StrictHostKeyChecking", "yes"); // HostKeys decides; "yes" makes JSch refuse what it refuses
            session.setConfig("PreferredAuthentications", "publickey");
            session.setServerAliveInterval(KEEPALIVE_MILLIS);
            session.setServerAliveCountMax(KEEPALIVE_MAX_MISSED);
            session.setDaemonThread(true);
            session.connect(Math.toIntExact(options.connectTimeout().toMillis()));
            return session;
        } catch (JSchException e) {
            throw connectFailure(where, target, hostKeys, identities, options, e);
        }
    }

    private static TransportException connectFailure(
            String where, SshTarget target, HostKeys hostKeys, SshIdentities identities, SshOptions options, JSchException e) {
        HostKeys.Presented presented = hostKeys.presented();
        if (presented != null && presented.verdict() == HostKeys.Verdict.CHANGED) {
            return new TransportException(where + ": the host key has CHANGED: the server presented the "
                    + presented.keyType() + " key " + presented.fingerprint() + ", which is not the key recorded for "
                    + presented.knownHostsName() + " in " + options.knownHosts()
                    + ". This is a possible man-in-the-middle attack (or the host was reinstalled)."
                    + " epdctl refuses it, even with --accept-new-host-keys; if the change is expected, remove the old key"
                    + " with: ssh-keygen -R " + Shell.quote(presented.knownHostsName()) + " -f " + Shell.quote(options.knownHosts().toString()), e);
        }
        if (presented != null && presented.verdict() == HostKeys.Verdict.UNKNOWN) {
            return new TransportException(where + ": unknown host key: " + presented.knownHostsName() + " is not in "
                    + options.knownHosts() + "; the server presented the " + presented.keyType() + " key "
                    + presented.fingerprint() + ". Check that fingerprint on the host (ssh-keygen -lf"
                    + " /etc/ssh/ssh_host_*_key.pub), then run again with --accept-new-host-keys to add it"
                    + (presented.addFailure() == null ? "" : " (" + presented.addFailure() + ")"), e);
        }
        if (e.getMessage() != null && (e.getMessage().startsWith("Auth fail") || e.getMessage().startsWith("Auth cancel"))) {
            return new TransportException(identities.loginRefused(where), e);
        }
        long seconds = options.connectTimeout().toSeconds();
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof UnknownHostException) {
                return new TransportException(where + ": cannot resolve the host name " + target.connectAddress() + " (DNS)", e);
            }
            if (cause instanceof ConnectException) {
                return new TransportException(where + ": connection refused: no SSH server listens on port " + target.port(), e);
            }
            if (cause instanceof NoRouteToHostException) {
                return new TransportException(where + ": no route to host", e);
            }
            if (cause instanceof SocketTimeoutException) {
                String phase = e.getMessage().startsWith("timeout: socket") ? "to accept the TCP connection" : "to complete the SSH handshake";
                return new TransportException(where + ": timed out after " + seconds + " s waiting for the host " + phase, e);
            }
        }
        return new TransportException(where + ": SSH connection failed: " + e.getMessage(), e);
    }

    @Override
    public String host() {
        return host.name();
    }

    @Override
    public CommandResult run(String command, byte[] stdin, Duration timeout) throws TransportException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        RemoteCommand remote;
        try {
            remote = start(command, new ByteArrayInputStream(stdin), out, err);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransportException(host.name() + ": interrupted while waiting to run a command", e);
        }
        try {
            if (!remote.awaitEnd(timeout)) {
                remote.kill();
                throw new TransportException(host.name() + ": command did not finish within " + timeout.toSeconds() + " s; stopped it");
            }
        } catch (InterruptedException e) {
            remote.kill();
            Thread.currentThread().interrupt();
            throw new TransportException(host.name() + ": interrupted while waiting for a command; stopped it", e);
        } finally {
            remote.release();
        }
        return new CommandResult(remote.exitStatus(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Override
    public int stream(String command, OutputStream out, OutputStream err) throws TransportException, InterruptedException {
        RemoteCommand remote = start(command, InputStream.nullInputStream(), out, err);
        try {
            remote.awaitEnd(null);
        } catch (InterruptedException e) {
            remote.kill();
            throw e;
        } finally {
            remote.release();
        }
        return remote.exitStatus();
    }

    /**
     * A local port forward (OpenSSH's {@code -L 127.0.0.1:0:127.0.0.1:PORT}) on the host's connection, on a
     * port of this machine's loopback that the system picks; the host's sshd must allow TCP forwarding
     * (its default).
     */
    @Override
    public Tunnel tunnel(int port) throws TransportException {
        Session forwarding;
        int local;
        try {
            synchronized (this) {
                if (closed) {
                    throw new TransportException(host.name() + ": the SSH connection was closed");
                }
                if (!session.isConnected()) {
                    session = openSession(host, options);
                }
                forwarding = session;
            }
            local = forwarding.setPortForwardingL(LOOPBACK, 0, LOOPBACK, port);
        } catch (JSchException e) {
            throw new TransportException(host.name() + ": cannot forward a local port to 127.0.0.1:" + port
                    + " over SSH: " + e.getMessage(), e);
        }
        return new Tunnel() {
            @Override
            public int localPort() {
                return local;
            }

            @Override
            public void close() {
                try {
                    forwarding.delPortForwardingL(LOOPBACK, local);
                } catch (JSchException e) {
                    // the connection is gone, and the forward with it
                }
            }
        };
    }

    @Override
    public synchronized void close() {
        closed = true;
        session.disconnect();
    }

    /** Starts {@code command} in a new channel, reconnecting first if the connection was lost. */
    private RemoteCommand start(String command, InputStream stdin, OutputStream out, OutputStream err)
            throws TransportException, InterruptedException {
        commandSlots.acquire();
        try {
            try {
                return open(command, stdin, out, err);
            } catch (JSchException e) {
                if (connected()) {
                    throw e;
                }
                // The connection was lost and JSch noticed only now: reconnect once.
                return open(command, stdin, out, err);
            }
        } catch (JSchException | RuntimeException e) {
            commandSlots.release();
            throw new TransportException(host.name() + ": cannot start a command over SSH: " + e.getMessage(), e);
        } catch (TransportException e) {
            commandSlots.release();
            throw e;
        }
    }

    private RemoteCommand open(String command, InputStream stdin, OutputStream out, OutputStream err)
            throws TransportException, JSchException {
        ChannelExec channel = openChannel();
        // sshd starts each command as a session leader, through the user's login shell; the frame's marker
        // names that leader, so its process group is what is killed when the command is abandoned (sshd
        // refuses "signal" requests for root), and it takes what the login shell printed out of the output.
        CommandFrame frame = new CommandFrame();
        channel.setCommand(frame.wrap(command));
        channel.setInputStream(stdin);
        CountDownLatch ended = new CountDownLatch(1);
        CommandFrame.Filter stdout = frame.filter(out, null);
        channel.setOutputStream(stdout);
        // JSch closes the error stream last, when the channel closes, after the exit status arrived.
        channel.setExtOutputStream(frame.filter(err, ended));
        channel.connect(Math.toIntExact(options.connectTimeout().toMillis()));
        return new RemoteCommand(channel, channel.getSession(), stdout, ended);
    }

    private synchronized boolean connected() {
        return session.isConnected();
    }

    private synchronized ChannelExec openChannel() throws TransportException, JSchException {
        if (closed) {
            throw new TransportException(host.name() + ": the SSH connection was closed");
        }
        if (!session.isConnected()) {
            session = openSession(host, options);
        }
        ChannelExec channel = (ChannelExec) session.openChannel("exec");
        if (channel == null) {
            throw new TransportException(host.name() + ": the SSH server refused a new channel");
        }
        return channel;
    }

    /** One command's channel: waits for its end, stops it, frees its slot. */
    private final class RemoteCommand {
        private final ChannelExec channel;
        private final Session session;
        private final CommandFrame.Filter stdout;
        private final CountDownLatch ended;

        RemoteCommand(ChannelExec channel, Session session, CommandFrame.Filter stdout, CountDownLatch ended) {
            this.channel = channel;
            this.session = session;
            this.stdout = stdout;
            this.ended = ended;
        }

        /** Null timeout: until the end. False if the timeout passed first. */
        boolean awaitEnd(Duration timeout) throws InterruptedException {
            if (timeout == null) {
                ended.await();
                return true;
            }
            return ended.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
        }

        /** Kills the command's process group (commands it started detached, with setsid, live on), then closes the channel. */
        void kill() {
            CommandFrame.killThroughInterrupts(this::killGroupAndClose);
        }

        private void killGroupAndClose() {
            try {
                long pid = session.isConnected() ? stdout.awaitPid(options.connectTimeout()) : -1;
                if (pid > 1 && session.isConnected()) {
                    ChannelExec killer = (ChannelExec) session.openChannel("exec");
                    killer.setCommand(CommandFrame.killGroup(pid));
                    killer.setInputStream(InputStream.nullInputStream());
                    CountDownLatch done = new CountDownLatch(1);
                    killer.setExtOutputStream(new KeepOpen(OutputStream.nullOutputStream(), done));
                    killer.connect(Math.toIntExact(options.connectTimeout().toMillis()));
                    done.await(options.connectTimeout().toMillis(), TimeUnit.MILLISECONDS);
                    killer.disconnect();
                }
            } catch (JSchException | RuntimeException e) {
                // The connection is failing; closing the channel below is all that is left to do.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            channel.disconnect();
        }

        int exitStatus() throws TransportException {
            int status = channel.getExitStatus();
            // -1 is also what JSch reports for a command killed by a signal; only a lost connection is an error.
            if (status == -1 && !session.isConnected()) {
                throw new TransportException(host.name() + ": the SSH connection was lost while a command ran");
            }
            return status;
        }

        void release() {
            channel.disconnect();
            commandSlots.release();
        }
    }

    /** Passes output through; the channel's close of it is a signal, never a close of the caller's stream. */
    private static final class KeepOpen extends FilterOutputStream {
        private final CountDownLatch closed;

        KeepOpen(OutputStream target, CountDownLatch closed) {
            super(target);
            this.closed = closed;
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            out.write(bytes, offset, length);
        }

        @Override
        public void close() throws IOException {
            out.flush();
            if (closed != null) {
                closed.countDown();
            }
        }
    }
}
