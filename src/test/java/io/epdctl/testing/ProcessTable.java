package io.epdctl.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.Supplier;

/** Checks on the real process table, for tests that must leave nothing running. */
public final class ProcessTable {
    private static final Duration WAIT = Duration.ofSeconds(20);

    private ProcessTable() {
    }

    /** Waits (bounded) until {@code living} lists nothing alive; returns what is still alive then. */
    public static List<ProcessHandle> awaitGone(Supplier<List<ProcessHandle>> living) throws InterruptedException {
        Instant deadline = Instant.now().plus(WAIT);
        List<ProcessHandle> alive = living.get().stream().filter(ProcessHandle::isAlive).toList();
        while (!alive.isEmpty() && Instant.now().isBefore(deadline)) {
            Thread.sleep(20);
            alive = living.get().stream().filter(ProcessHandle::isAlive).toList();
        }
        return alive;
    }

    /** Waits (bounded) until process {@code pid} has ended; returns it if it is still alive then. */
    public static List<ProcessHandle> awaitGone(long pid) throws InterruptedException {
        return awaitGone(() -> ProcessHandle.of(pid).stream().toList());
    }

    /** The pid a command wrote to {@code pidFile}, waiting (bounded) for the file to appear. */
    public static long pidFromFile(Path pidFile) throws IOException, InterruptedException {
        Instant deadline = Instant.now().plus(WAIT);
        while (true) {
            if (Files.exists(pidFile)) {
                String text = Files.readString(pidFile).trim();
                if (!text.isEmpty()) {
                    return Long.parseLong(text);
                }
            }
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("no pid in " + pidFile + " after " + WAIT.toSeconds() + " s");
            }
            Thread.sleep(10);
        }
    }

    /**
     * What this JVM started and is still running, apart from test fixtures' servers (sshd, ssh-agent):
     * commands run locally and anything they left behind in their process tree.
     */
    public static List<ProcessHandle> startedByTests() {
        return ProcessHandle.current().children()
                .filter(child -> child.info().command().map(c -> !c.endsWith("/sshd") && !c.endsWith("/ssh-agent")).orElse(true))
                .flatMap(child -> java.util.stream.Stream.concat(java.util.stream.Stream.of(child), child.descendants()))
                .filter(ProcessHandle::isAlive)
                .toList();
    }

    public static List<String> describe(List<ProcessHandle> processes) {
        return processes.stream().map(SshServer::describe).toList();
    }
}
