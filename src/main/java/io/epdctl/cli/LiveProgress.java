package io.epdctl.cli;

import io.epdctl.lifecycle.Progress;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code up} and {@code down} on a terminal, as docker compose shows them: one line per process, redrawn in
 * place, with its state, the seconds it has been at it and what it does (while loading, the last line of
 * its log); messages about the whole run are printed above these lines. Only used where {@link Terminal}
 * allows control codes; elsewhere {@link Progress#lines} prints the same steps as plain lines.
 */
final class LiveProgress implements Progress, AutoCloseable {
    private static final long REDRAW_MILLIS = 250;
    private static final long PEEK_NANOS = 1_000_000_000L;
    private static final int WIDTH_DEFAULT = 120;

    private final PrintWriter err;
    private final Function<String, String> lastLogLine;
    private final int width;
    private final Map<String, Line> lines = new LinkedHashMap<>();
    private final Thread ticker;
    private int drawn;
    private boolean closed;

    /** What one process's line shows. */
    private static final class Line {
        Step step;
        final long since = System.nanoTime();
        long until;
        String text;
        String logLine;
        long peeked;
    }

    /**
     * @param lastLogLine a loading process's last log line by its name (asked at most once a second each,
     *                    off the lock, so a slow host delays only its own line)
     */
    LiveProgress(PrintWriter err, Function<String, String> lastLogLine, Map<String, String> env) {
        this.err = err;
        this.lastLogLine = lastLogLine;
        this.width = columns(env);
        this.ticker = new Thread(this::tick, "epdctl-live-progress");
        ticker.setDaemon(true);
        ticker.start();
    }

    /** $COLUMNS where the shell exports it; lines are cut there so that none wraps and breaks the redraw. */
    static int columns(Map<String, String> env) {
        try {
            int columns = Integer.parseInt(env.getOrDefault("COLUMNS", "").strip());
            return columns >= 20 ? columns : WIDTH_DEFAULT;
        } catch (NumberFormatException e) {
            return WIDTH_DEFAULT;
        }
    }

    @Override
    public synchronized void say(String text) {
        above("epdctl: " + text);
    }

    @Override
    public synchronized void note(String text) {
        above("  " + text);
    }

    @Override
    public synchronized void step(String name, Step step, String text) {
        Line line = lines.computeIfAbsent(name, key -> new Line());
        line.step = step;
        line.text = text;
        line.until = step == Step.READY || step == Step.STOPPED || step == Step.FAILED ? System.nanoTime() : 0;
        if (step != Step.STARTED) {
            line.logLine = null;
        }
        redraw();
    }

    @Override
    public void close() throws InterruptedException {
        synchronized (this) {
            closed = true;
            redraw();
            drawn = 0;
        }
        ticker.interrupt();
        ticker.join();
    }

    private void tick() {
        try {
            while (true) {
                Thread.sleep(REDRAW_MILLIS);
                List<String> toPeek = new ArrayList<>();
                synchronized (this) {
                    if (closed) {
                        return;
                    }
                    long now = System.nanoTime();
                    lines.forEach((name, line) -> {
                        if (line.step == Step.STARTED && now - line.peeked >= PEEK_NANOS) {
                            line.peeked = now;
                            toPeek.add(name);
                        }
                    });
                }
                for (String name : toPeek) {
                    String last = lastLogLine.apply(name);
                    synchronized (this) {
                        Line line = lines.get(name);
                        if (line != null && line.step == Step.STARTED && last != null && !last.isBlank()) {
                            line.logLine = last.strip();
                        }
                    }
                }
                synchronized (this) {
                    if (!closed) {
                        redraw();
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A message printed where the lines are, which are then drawn again below it (it may wrap: it is not redrawn). */
    private void above(String message) {
        erase();
        err.println(message);
        draw();
    }

    private void redraw() {
        erase();
        draw();
    }

    /** Back to the first of the drawn lines, and everything from there on cleared. */
    private void erase() {
        if (drawn > 0) {
            err.print("\r\033[" + drawn + "A\033[J"); // up (CUU) to the first line, then clear to the end
        }
        drawn = 0;
    }

    private void draw() {
        int nameWidth = lines.keySet().stream().mapToInt(String::length).max().orElse(0);
        long now = System.nanoTime();
        for (Map.Entry<String, Line> entry : lines.entrySet()) {
            Line line = entry.getValue();
            String state = word(line.step);
            double seconds = ((line.until != 0 ? line.until : now) - line.since) / 1e9;
            String text = line.step == Step.STARTED && line.logLine != null ? line.logLine : line.text;
            String plain = String.format(" %-" + nameWidth + "s  %-8s %6.1fs  ", entry.getKey(), state, seconds);
            String cut = cut(plain + text);
            String rest = cut.substring(Math.min(plain.length(), cut.length()));
            err.println(String.format(" %-" + nameWidth + "s  ", entry.getKey()) + Terminal.state(true, state, 8)
                    + String.format(" %6.1fs  ", seconds) + Terminal.paint(true, Terminal.Colour.DIM, rest));
            drawn++;
        }
        err.flush();
    }

    private String cut(String text) {
        String line = text.replaceAll("[\\p{Cntrl}&&[^\\t]]", "?");
        return line.length() < width ? line : line.substring(0, Math.max(0, width - 4)) + "...";
    }

    static String word(Step step) {
        return switch (step) {
            case STARTING -> "starting";
            case STARTED -> "loading";
            case READY -> "ready";
            case STOPPING -> "stopping";
            case STOPPED -> "stopped";
            case FAILED -> "failed";
        };
    }
}
