package io.epdctl.cli;

import java.io.PrintWriter;
import picocli.CommandLine;

/** Entry point of the {@code epdctl} jar. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        System.exit(commandLine(out, err).execute(args));
    }

    /** The whole CLI, writing data to {@code out} and messages to {@code err}; tests run it as is. */
    public static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine commandLine = new CommandLine(new EpdctlCommand());
        commandLine.setOut(out);
        commandLine.setErr(err);
        commandLine.setExecutionExceptionHandler((exception, cmd, parseResult) -> {
            if (exception instanceof UserException userError) {
                cmd.getErr().println("epdctl: " + userError.getMessage());
                return userError.exitCode();
            }
            cmd.getErr().println("epdctl: internal error: " + exception);
            if (System.getenv("EPDCTL_DEBUG") != null) {
                exception.printStackTrace(cmd.getErr());
            } else {
                cmd.getErr().println("(set EPDCTL_DEBUG=1 for the stack trace, and please report it)");
            }
            return ExitCodes.INTERNAL_ERROR;
        });
        return commandLine;
    }
}
