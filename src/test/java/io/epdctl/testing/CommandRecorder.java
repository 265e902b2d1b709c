package io.epdctl.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Stand-in commands ({@code vllm}, {@code python3}, ...) that record their argv and environment, put first
 * on PATH to run a real start script and see exactly what it would have executed.
 */
public final class CommandRecorder {
    private static final String STUB = """
            #!/bin/sh
            # Records one call: its arguments NUL-separated, and its environment.
            record="$RECORD_DIR/$(date +%s%N)-$(basename "$0")"
            printf '%s\\0' "$@" > "$record.argv"
            env -0 > "$record.env"
            """;

    private final Path stubs;
    private final Path records;

    /** One recorded execution of a stand-in. */
    public record Call(String command, List<String> argv, Map<String, String> env) {
    }

    public CommandRecorder(Path directory, String... commands) throws IOException {
        this.stubs = Files.createDirectories(directory.resolve("stubs"));
        this.records = Files.createDirectories(directory.resolve("records"));
        for (String command : commands) {
            Path stub = stubs.resolve(command);
            Files.writeString(stub, STUB);
            Files.setPosixFilePermissions(stub, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    /** Puts a stand-in of its own for {@code command} first on PATH: {@code script} is its sh text (it records nothing). */
    public void standIn(String command, String script) throws IOException {
        Path stub = stubs.resolve(command);
        Files.writeString(stub, script);
        Files.setPosixFilePermissions(stub, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /**
     * Runs {@code script} with bash, the stand-ins first on PATH and {@code env} added, and returns the calls
     * it made, in order. Fails when the script fails.
     */
    public List<Call> run(Path script, Map<String, String> env) throws IOException, InterruptedException {
        try (Stream<Path> old = Files.list(records)) {
            for (Path record : old.toList()) {
                Files.delete(record);
            }
        }
        ProcessBuilder builder = new ProcessBuilder("bash", script.toString()).redirectErrorStream(true);
        builder.environment().clear();
        builder.environment().put("PATH", stubs + ":/usr/bin:/bin");
        builder.environment().put("HOME", System.getProperty("user.home"));
        builder.environment().put("RECORD_DIR", records.toString());
        builder.environment().putAll(env);
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException(script + " did not finish");
        }
        if (process.exitValue() != 0) {
            throw new IllegalStateException(script + " exited " + process.exitValue() + ":\n" + output);
        }
        List<Call> calls = new ArrayList<>();
        try (Stream<Path> found = Files.list(records)) {
            for (Path argvFile : found.filter(p -> p.toString().endsWith(".argv")).sorted().toList()) {
                String base = argvFile.getFileName().toString().replaceFirst("\\.argv$", "");
                calls.add(new Call(base.substring(base.indexOf('-') + 1), split(argvFile),
                        environment(records.resolve(base + ".env"))));
            }
        }
        return calls;
    }

    /** The one call of {@code command} among {@code calls}; fails unless there is exactly one. */
    public static Call only(List<Call> calls, String command) {
        List<Call> matching = calls.stream().filter(call -> call.command().equals(command)).toList();
        if (matching.size() != 1) {
            throw new AssertionError("expected one call of " + command + ", got " + calls);
        }
        return matching.get(0);
    }

    private static List<String> split(Path file) throws IOException {
        String text = Files.readString(file);
        return text.isEmpty() ? List.of() : Arrays.asList(text.substring(0, text.length() - 1).split("\0", -1));
    }

    private static Map<String, String> environment(Path file) throws IOException {
        Map<String, String> env = new LinkedHashMap<>();
        for (String entry : split(file)) {
            int eq = entry.indexOf('=');
            env.put(entry.substring(0, eq), entry.substring(eq + 1));
        }
        return env;
    }
}
