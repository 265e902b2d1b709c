package io.epdctl.state;

import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Deployment state on the machine epdctl runs on: {@code ROOT/NAME/state.json}, written atomically (a
 * crash leaves the old or the new file, never half of one) with its format version (see {@link StateFormat}), and {@code ROOT/NAME/lock}, held by the one
 * epdctl process acting on that deployment.
 */
public final class StateStore {
    private final Path root;
    /** Records as their components only: helpers such as {@code ProcessRecord.isProxy()} are not state. */
    private final ObjectMapper json = JsonMapper.builder()
            .addModule(new JavaTimeModule())
            .disable(MapperFeature.AUTO_DETECT_IS_GETTERS)
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    public StateStore(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    /**
     * Takes the deployment's lock, or fails at once with who holds it: a second {@code up} or {@code down}
     * must not act on processes the first one is starting or stopping. The lock is the kernel's (fcntl)
     * lock on {@code NAME/lock}, which this JVM loses when it closes any descriptor of that file: so the
     * holder never opens the file again while it holds it.
     */
    public DeploymentLock lock(String deployment) throws IOException, LockedException {
        Path directory = Files.createDirectories(root.resolve(deployment));
        Path lockFile = directory.resolve("lock");
        FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            String holder = Files.readString(lockFile).strip();
            channel.close();
            throw new LockedException("deployment " + deployment + " is being changed by another epdctl"
                    + (holder.isEmpty() ? "" : " (pid " + holder + ")") + "; wait for it to finish");
        }
        channel.truncate(0);
        channel.write(ByteBuffer.wrap(String.valueOf(ProcessHandle.current().pid()).getBytes(StandardCharsets.UTF_8)));
        channel.force(false);
        return new DeploymentLock(channel, lock);
    }

    /**
     * The deployment's state, brought up to the current format when an older epdctl wrote it; a newer or
     * unknown format is a {@link StateFormatException}.
     */
    public Optional<DeploymentState> read(String deployment) throws IOException {
        Path file = stateFile(deployment);
        if (!Files.exists(file)) {
            requireNoFileOnTheWay(file);
            return Optional.empty();
        }
        if (!(json.readTree(file.toFile()) instanceof ObjectNode tree)) {
            throw new StateFormatException(file + " is not an epdctl state file (no JSON object): move it away (or remove "
                    + "it) once nothing of the deployment runs");
        }
        return Optional.of(json.treeToValue(StateFormat.upgrade(file, tree), DeploymentState.class));
    }

    /**
     * A file where the state directory or the deployment's directory should be makes the state unusable, not
     * absent: the nearest existing directory on the way to {@code file} must be one.
     */
    private static void requireNoFileOnTheWay(Path file) throws NotDirectoryException {
        for (Path dir = file.toAbsolutePath().getParent(); dir != null; dir = dir.getParent()) {
            if (Files.exists(dir)) {
                if (!Files.isDirectory(dir)) {
                    throw new NotDirectoryException(dir.toString());
                }
                return;
            }
        }
    }

        public void write(DeploymentState state) throws IOException {
        Path file = stateFile(state.deployment());
        Files.createDirectories(file.getParent());
        Path temporary = Files.createTempFile(file.getParent(), "state", ".tmp");
        try {
            ObjectNode tree = json.createObjectNode().put(StateFormat.FIELD, StateFormat.CURRENT);
            tree.setAll((ObjectNode) json.valueToTree(state));
            json.writeValue(temporary.toFile(), tree);
            try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE)) {
                channel.force(true);
            }
            try {
                Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(temporary);
        }
    }

    /** Forgets a deployment whose processes are all gone. */
    public void delete(String deployment) throws IOException {
        Files.deleteIfExists(stateFile(deployment));
    }

    /**
     * Names of the deployments that have state; none before the first {@code up}. A root that cannot be
     * listed (a file in its place, no permission) is an error, not "nothing runs".
     */
    public List<String> deployments() throws IOException {
        try (Stream<Path> entries = Files.list(root)) {
            return entries.filter(dir -> Files.exists(dir.resolve("state.json")))
                    .map(dir -> dir.getFileName().toString())
                    .sorted()
                    .toList();
        } catch (NoSuchFileException e) {
            return List.of();
        }
    }

    /** Where the state of {@code deployment} is kept (it may not exist). */
    public Path stateFile(String deployment) {
        return root.resolve(deployment).resolve("state.json");
    }

    /** Held while a command acts on a deployment; closing releases it. */
    public static final class DeploymentLock implements AutoCloseable {
        private final FileChannel channel;
        private final FileLock lock;

        private DeploymentLock(FileChannel channel, FileLock lock) {
            this.channel = channel;
            this.lock = lock;
        }

        @Override
        public void close() throws IOException {
            try {
                lock.release();
            } finally {
                channel.close();
            }
        }
    }

    /** Another process holds the deployment's lock. */
    public static final class LockedException extends Exception {
        private static final long serialVersionUID = 1L;

        public LockedException(String message) {
            super(message);
        }
    }
}
