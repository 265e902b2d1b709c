package io.epdctl.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * wrk as a neutral load generator: closed loop, keep-alive connections, the same for every proxy. Its Lua script
 * ({@code load.lua}) sends the bodies of a file in turn and counts an answer good only when it is a 200 ending
 * in {@code data: [DONE]}.
 */
final class WrkLoad {
    private static final Pattern RESULT = Pattern.compile("RESULT requests=(\\d+) duration_us=(\\d+) good=(\\d+) "
            + "bad=(\\d+) connect=(\\d+) read=(\\d+) write=(\\d+) timeout=(\\d+) p50_us=(\\d+) p99_us=(\\d+)");
    private final Path script;
    private final int threads;

    WrkLoad(Path script, int threads) {
        this.script = script;
        this.threads = threads;
    }

    /** Is wrk on the PATH? */
    static boolean available() {
        try {
            Process wrk = new ProcessBuilder("wrk", "--version").redirectErrorStream(true).start();
            wrk.getInputStream().readAllBytes();
            wrk.waitFor();
            return true;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Sends the bodies to {@code url} over {@code connections} connections for {@code length}. */
    Measurement run(String url, Path bodies, int connections, Duration length) throws IOException, InterruptedException {
        int wrkThreads = Math.min(threads, connections);
        Process wrk = new ProcessBuilder("wrk", "-t", String.valueOf(wrkThreads), "-c", String.valueOf(connections),
                "-d", length.toSeconds() + "s", "--timeout", "30s", "-s", script.toString(), url, "--",
                bodies.toString(), String.valueOf(wrkThreads)).redirectErrorStream(true).start();
        String output = new String(wrk.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int exit = wrk.waitFor();
        Matcher m = RESULT.matcher(output);
        if (exit != 0 || !m.find()) {
            throw new IOException("wrk failed (exit " + exit + "):\n" + output);
        }
        long requests = Long.parseLong(m.group(1));
        long bad = Long.parseLong(m.group(4));
        long socketErrors = Long.parseLong(m.group(5)) + Long.parseLong(m.group(6)) + Long.parseLong(m.group(7))
                + Long.parseLong(m.group(8));
        return new Measurement(requests - bad, bad + socketErrors, Long.parseLong(m.group(2)) / 1e6,
                Long.parseLong(m.group(9)) / 1e3, Long.parseLong(m.group(10)) / 1e3, Double.NaN, Double.NaN, Double.NaN);
    }

    /** Writes the bodies one per line for the Lua script (JSON has no raw newlines). */
    static Path bodiesFile(Path dir, String name, List<String> bodies) throws IOException {
        return Files.write(dir.resolve(name + ".jsonl"), bodies, StandardCharsets.UTF_8);
    }
}
