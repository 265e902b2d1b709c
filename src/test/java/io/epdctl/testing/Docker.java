package io.epdctl.testing;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * The real Docker daemon of this machine, for the container tests: a test image built without a registry (an
 * imported root of symlinks into the host's /usr, which the containers mount read-only with the host's Java, so that
 * vllm-sim runs inside), stand-in device files for the NPUs, and the check that no container of a test is left.
 * Everything it makes is named with {@link #PREFIX} and a run's id, and removed by {@link #close()}.
 */
public final class Docker implements AutoCloseable {
    public static final String PREFIX = "epdctl-it-";
    private static final Path ROOT = Path.of("").toAbsolutePath();

    private final String image;
    private final List<Path> createdDevices = new ArrayList<>();
    /**
     * Held while this fixture's stand-in device files exist: /dev is the machine's, and a second test run on it
     * (another clone's) would remove them under this one's containers when it ends. Runs wait for each other.
     */
    private static final Path DEVICES_LOCK = Path.of(System.getProperty("java.io.tmpdir"), "epdctl-test-devices.lock");
    private FileLock devicesLock;

    private Docker(String image) {
        this.image = image;
    }

    /** Builds the test image. */
    public static Docker start(Path dir) throws IOException, InterruptedException {
        Docker docker = new Docker(PREFIX + UUID.randomUUID().toString().substring(0, 8) + ":1");
        Path root = Files.createDirectories(dir.resolve("image-root"));
        for (String link : List.of("bin", "lib", "lib64", "sbin")) {
            if (Files.isSymbolicLink(Path.of("/" + link))) {
                Files.createSymbolicLink(root.resolve(link), Files.readSymbolicLink(Path.of("/" + link)));
            }
        }
        for (String directory : List.of("usr", "etc", "tmp", "dev", "proc", "sys", "root")) {
            Files.createDirectories(root.resolve(directory));
        }
        Result imported = run("sh", "-c", "chmod 1777 \"$1\"/tmp && tar -C \"$1\" -cf - . | docker import - \"$2\"", "sh",
                root.toString(), docker.image);
        if (imported.code() != 0) {
            throw new IOException("docker import failed: " + imported.output());
        }
        return docker;
    }

    public String image() {
        return image;
    }

    /**
     * The {@code docker.args} a node of the test image needs: the host's /usr (Java, bash), Java's configuration and /etc/alternatives (where /usr/bin/java points),
     * and this repository (bin/vllm-sim and the jar) at the same paths, read-only.
     */
    public String args() {
        return "[-v, '/usr:/usr:ro', -v, '/etc/java-17-openjdk:/etc/java-17-openjdk:ro', -v, '/etc/alternatives:/etc/alternatives:ro', -v, '" + ROOT + ":" + ROOT + ":ro']";
    }

    /**
     * Device files standing in for the NPUs' and the driver's (character devices of /dev/null's numbers): a
     * container is given them with --device as it would be the real ones. Only those that were not there are
     * made, and only those are removed again.
     */
    public void devices(List<String> paths) throws IOException, InterruptedException {
        if (devicesLock == null) {
            devicesLock = FileChannel.open(DEVICES_LOCK, StandardOpenOption.CREATE, StandardOpenOption.WRITE).lock();
        }
        for (String path : paths) {
            Path device = Path.of(path);
            if (!Files.exists(device)) {
                Result made = run("mknod", path, "c", "1", "3");
                if (made.code() != 0) {
                    throw new IOException("mknod " + path + ": " + made.output());
                }
                createdDevices.add(device);
            }
        }
    }

    /** The ids of the containers whose labels name the deployment (any state), per {@code docker ps -a}. */
    public static List<String> containers(String deployment) throws IOException, InterruptedException {
        Result ps = run("docker", "ps", "-aq", "--filter", "label=io.epdctl.deployment=" + deployment);
        return ps.output().lines().filter(line -> !line.isBlank()).toList();
    }


    /** Removes the deployment's containers, whatever happened to the test. */
    public static void removeContainers(String deployment) throws IOException, InterruptedException {
        for (String id : containers(deployment)) {
            run("docker", "rm", "-f", id);
        }
    }

    public static Result run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        process.getOutputStream().close();
        byte[] output = process.getInputStream().readAllBytes();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
        return new Result(process.exitValue(), new String(output, StandardCharsets.UTF_8));
    }

    public record Result(int code, String output) {
    }

    @Override
    public void close() throws IOException, InterruptedException {
        for (Path device : createdDevices) {
            Files.deleteIfExists(device);
        }
        if (devicesLock != null) {
            devicesLock.channel().close();
        }
        run("docker", "rmi", "-f", image);
    }
}
