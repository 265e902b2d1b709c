package io.epdctl.testing;

import io.epdctl.cli.Main;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;

/** Runs the real epdctl command line in this JVM, capturing what it prints. */
public final class Cli {
    private Cli() {
    }

    public record Result(int exitCode, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    public static Result run(String... args) {
        return run(Writer.nullWriter(), args);
    }

    /** As {@link #run(String...)}, also copying what epdctl prints on stderr to {@code errEcho} as it comes. */
    public static Result run(Writer errEcho, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        Writer errAndEcho = new Writer() {
            @Override
            public void write(char[] chars, int offset, int length) {
                err.write(chars, offset, length);
                try {
                    errEcho.write(chars, offset, length);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }

            @Override
            public void flush() throws IOException {
                errEcho.flush();
            }

            @Override
            public void close() {
            }
        };
        int exitCode = Main.commandLine(new PrintWriter(out, true), new PrintWriter(errAndEcho, true)).execute(args);
        return new Result(exitCode, out.toString(), err.toString());
    }
}
