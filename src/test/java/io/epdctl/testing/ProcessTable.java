package io.epdctl.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The machine's process table, read from /proc: what a test started is found by an environment marker that
 * every process of the test inherits (engine children too), whoever started it and whatever its state file says.
 */
public final class ProcessTable {
    private ProcessTable() {
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

    /** SIGKILLs every live process with the marker; returns how many there were. */
    public static int killAll(String key, String value) {
        List<Long> pids = withEnvironment(key, value);
        pids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        return pids.size();
    }

    private static boolean isZombie(Path process) throws IOException {
        String stat = Files.readString(process.resolve("stat"));
        return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
    }
}
