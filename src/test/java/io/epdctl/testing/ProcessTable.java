package io.epdctl.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Checks on the real process table, for tests that must leave nothing running. What a deployment test
 * started is found by an environment marker every process of it inherits (engine children too), whoever
 * started it and whatever its state file says.
 */
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

    /**
     * Waits (bounded) until {@code living} lists nothing alive, SIGKILLs what still is and describes it:
     * an after-each check that fails must not leave its processes to the tests that follow.
     */
    public static List<String> killSurvivors(Supplier<List<ProcessHandle>> living) throws InterruptedException {
        List<ProcessHandle> survivors = awaitGone(living);
        List<String> described = describe(survivors);
        survivors.forEach(ProcessHandle::destroyForcibly);
        return described;
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
                .flatMap(child -> Stream.concat(Stream.of(child), child.descendants()))
                .filter(ProcessHandle::isAlive)
                .toList();
    }

    public static List<String> describe(List<ProcessHandle> processes) {
        return processes.stream().map(SshServer::describe).toList();
    }

    /** Live processes whose environment has {@code key=value}. */
    public static List<Long> withEnvironment(String key, String value) {
        byte[] needle = (key + "=" + value).getBytes(StandardCharsets.UTF_8);
        List<Long> pids = new ArrayList<>();
        try (Stream<Path> entries = Files.list(Path.of("/proc"))) {
            entries.filter(entry -> entry.getFileName().toString().matches("\\d+")).forEach(entry -> {
                try {
                    if (isZombie(entry)) {
                        return;
                    }
                    for (String variable : new String(Files.readAllBytes(entry.resolve("environ")), StandardCharsets.UTF_8).split("\0")) {
                        if (variable.equals(new String(needle, StandardCharsets.UTF_8))) {
                            pids.add(Long.parseLong(entry.getFileName().toString()));
                            return;
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    // the process ended while being read
                }
            });
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc", e);
        }
        return pids;
    }

    /**
     * SIGKILLs every live process with the marker, and their process groups: the supervisor that leads a node's
     * group carries no marker of its own and would start a killed node again. Returns how many there were.
     */
    public static int killAll(String key, String value) {
        List<Long> pids = withEnvironment(key, value);
        String own = ownGroup();
        pids.stream().map(ProcessTable::group).filter(group -> group != null && !group.equals(own)).distinct().forEach(group -> {
            try {
                new ProcessBuilder("kill", "-KILL", "--", "-" + group).start().waitFor();
            } catch (IOException e) {
                // the group is gone, or kill is missing: the processes are killed one by one below
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        pids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        return pids.size();
    }

    private static String ownGroup() {
        return group(ProcessHandle.current().pid());
    }

    private static String group(long pid) {
        try {
            return stat(pid)[4];
        } catch (IOException e) {
            return null;
        }
    }

    /** Whether {@code pid} is a live process: a zombie (ended, not yet reaped by its parent) is not. */
    public static boolean isLive(long pid) {
        try {
            return !isZombie(Path.of("/proc", String.valueOf(pid)));
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean isZombie(Path process) throws IOException {
        return statFields(process)[2].equals("Z");
    }

    /**
     * The fields of {@code /proc/PID/stat}: index i holds field i + 1 of proc(5) (2: state, 4: process group,
     * 5: session, 21: start time). The command name, field 2, may hold spaces and parentheses.
     */
    public static String[] stat(long pid) throws IOException {
        return statFields(Path.of("/proc", String.valueOf(pid)));
    }

    private static String[] statFields(Path process) throws IOException {
        String stat = Files.readString(process.resolve("stat"));
        int nameEnd = stat.lastIndexOf(')');
        String[] rest = stat.substring(nameEnd + 2).trim().split(" ");
        String[] fields = new String[rest.length + 2];
        fields[0] = stat.substring(0, stat.indexOf(' '));
        fields[1] = stat.substring(stat.indexOf('(') + 1, nameEnd);
        System.arraycopy(rest, 0, fields, 2, rest.length);
        return fields;
    }
}
