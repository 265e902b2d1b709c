package io.epdctl.sim;

import java.io.PrintStream;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;

/** Log lines shaped like vLLM's ({@code (APIServer pid=N) INFO 11-26 23:10:50 [file] message}). */
final class SimLog {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("MM-dd HH:mm:ss");
    private final PrintStream out;
    private final PrintStream err;
    private final String process;

    SimLog(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
        this.process = "(APIServer pid=" + ProcessHandle.current().pid() + ") ";
    }

    void info(String source, String message) {
        line(out, "INFO", source, message);
    }

    void warning(String source, String message) {
        line(out, "WARNING", source, message);
    }

    void error(String source, String message) {
        line(err, "ERROR", source, message);
    }

    /** A fatal error as vLLM shows it: a Python traceback ending in {@code exceptionLines}. */
    void traceback(String source, String headline, String exceptionLines) {
        error(source, headline);
        synchronized (err) {
            err.println("Traceback (most recent call last):");
            err.println("  File \"/vllm-sim/" + source + "\", line 1, in <module>");
            err.println(exceptionLines);
            err.flush();
        }
    }

    private void line(PrintStream stream, String level, String source, String message) {
        synchronized (stream) {
            stream.println(process + level + " " + LocalDateTime.now().format(TIME) + " [" + source + "] " + message);
            stream.flush();
        }
    }
}
