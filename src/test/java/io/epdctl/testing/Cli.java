package io.epdctl.testing;

import io.epdctl.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;

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
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exitCode = Main.commandLineFor(args, new PrintWriter(out, true), new PrintWriter(err, true)).execute(args);
        return new Result(exitCode, out.toString(), err.toString());
    }
}
