package io.epdctl.transport;

import com.jcraft.jsch.HostKey;
import com.jcraft.jsch.HostKeyRepository;
import com.jcraft.jsch.JSch;
import com.jcraft.jsch.JSchException;
import com.jcraft.jsch.UserInfo;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The known_hosts check of one connection, in OpenSSH's terms ({@code StrictHostKeyChecking yes}, or
 * {@code accept-new} when new keys are accepted). JSch parses the file and matches keys; this class
 * decides, remembers what the server presented (for the message when the key is refused) and appends
 * accepted keys to the file as OpenSSH does, rather than letting JSch rewrite the user's file.
 */
final class HostKeys implements HostKeyRepository {

    /** What the server presented and what the check concluded. */
    record Presented(String knownHostsName, String keyType, String fingerprint, Verdict verdict, String addFailure) {
    }

    enum Verdict { KNOWN, ADDED, UNKNOWN, CHANGED }

    private final HostKeyRepository known;
    private final Path file;
    private final boolean acceptNew;
    private final boolean hashNames;
    private volatile Presented presented;

    HostKeys(Path file, boolean acceptNew, boolean hashNames) throws TransportException {
        this.file = file;
        this.acceptNew = acceptNew;
        this.hashNames = hashNames;
        JSch parser = new JSch();
        try {
            byte[] text = Files.isRegularFile(file) ? Files.readAllBytes(file) : new byte[0];
            parser.setKnownHosts(new ByteArrayInputStream(text));
        } catch (IOException | JSchException e) {
            throw new TransportException("cannot read known_hosts file " + file + ": " + e.getMessage(), e);
        }
        this.known = parser.getHostKeyRepository();
    }

    /** Null until the server has presented its key. */
    Presented presented() {
        return presented;
    }

    @Override
    public int check(String host, byte[] key) {
        String type = keyType(key);
        String fingerprint = fingerprint(key);
        int result = known.check(host, key);
        // A host known under other key types only is a changed host, not a new one (stricter than OpenSSH).
        if (result == NOT_INCLUDED && known.getHostKey(host, null).length > 0) {
            result = CHANGED;
        }
        Verdict verdict = switch (result) {
            case OK -> Verdict.KNOWN;
            case CHANGED -> Verdict.CHANGED;
            default -> Verdict.UNKNOWN;
        };
        String addFailure = null;
        if (verdict == Verdict.UNKNOWN && acceptNew) {
            try {
                append(host, type, key);
                verdict = Verdict.ADDED;
                result = OK;
            } catch (IOException e) {
                addFailure = "cannot add it to " + file + ": " + e.getMessage(); // refused as unknown
            }
        }
        presented = new Presented(host, type, fingerprint, verdict, addFailure);
        return result;
    }

    /** Appends one line, as {@code ssh} does; locked so that parallel connections do not interleave. */
    private void append(String host, String type, byte[] key) throws IOException {
        String line = (hashNames ? hashed(host) : host) + " " + type + " " + Base64.getEncoder().encodeToString(key) + "\n";
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            Files.createDirectories(parent);
        }
        synchronized (HostKeys.class) {
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
                    var lock = channel.lock()) {
                byte[] entry = separatorIfNeeded(channel).concat(line).getBytes(StandardCharsets.UTF_8);
                channel.write(ByteBuffer.wrap(entry), channel.size());
            }
        }
    }

    /** A file whose last line lacks its newline would otherwise get our entry glued to it. */
    private String separatorIfNeeded(FileChannel channel) throws IOException {
        long size = channel.size();
        if (size == 0) {
            return "";
        }
        ByteBuffer last = ByteBuffer.allocate(1);
        channel.read(last, size - 1);
        return last.get(0) == '\n' ? "" : "\n";
    }

    /** OpenSSH's HashKnownHosts form: {@code |1|base64(salt)|base64(HMAC-SHA1(salt, host))}. */
    private static String hashed(String host) {
        byte[] salt = new byte[20];
        new SecureRandom().nextBytes(salt);
        try {
            Mac mac = Mac.getInstance("HmacSHA1");
            mac.init(new SecretKeySpec(salt, "HmacSHA1"));
            byte[] hash = mac.doFinal(host.getBytes(StandardCharsets.UTF_8));
            Base64.Encoder base64 = Base64.getEncoder();
            return "|1|" + base64.encodeToString(salt) + "|" + base64.encodeToString(hash);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA1 is part of every Java runtime", e);
        }
    }

    /** The key's algorithm, the first string of the SSH wire-format blob (e.g. {@code ssh-ed25519}). */
    static String keyType(byte[] blob) {
        ByteBuffer buffer = ByteBuffer.wrap(blob);
        if (blob.length < 4) {
            return "unknown";
        }
        int length = buffer.getInt();
        if (length <= 0 || length > blob.length - 4) {
            return "unknown";
        }
        return new String(blob, 4, length, StandardCharsets.US_ASCII);
    }

    /** The fingerprint {@code ssh-keygen -l} and {@code ssh} print: {@code SHA256:} and unpadded base64. */
    static String fingerprint(byte[] blob) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(blob);
            return "SHA256:" + Base64.getEncoder().withoutPadding().encodeToString(digest);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }

    @Override
    public void add(HostKey hostkey, UserInfo userinfo) {
        // JSch adds keys only under StrictHostKeyChecking ask/no, which this transport never sets.
        throw new UnsupportedOperationException("host keys are added by check()");
    }

    @Override
    public void remove(String host, String type) {
        throw new UnsupportedOperationException("epdctl never removes known host keys");
    }

    @Override
    public void remove(String host, String type, byte[] key) {
        throw new UnsupportedOperationException("epdctl never removes known host keys");
    }

    @Override
    public String getKnownHostsRepositoryID() {
        return file.toString();
    }

    @Override
    public HostKey[] getHostKey() {
        return known.getHostKey();
    }

    @Override
    public HostKey[] getHostKey(String host, String type) {
        return known.getHostKey(host, type);
    }
}
