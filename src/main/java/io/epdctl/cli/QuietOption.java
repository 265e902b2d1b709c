package io.epdctl.cli;

import io.epdctl.lifecycle.Progress;
import java.util.function.Function;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * {@code -q} of the commands that change a deployment (up, down), and how their progress is shown: not at
 * all with -q, one live line per process where stderr is a terminal that takes control codes, else plain lines.
 */
public final class QuietOption {
    @Option(names = {"-q", "--quiet"}, description = "Print only errors (and the data on stdout), no progress.")
    boolean quiet;

    /** The progress as the command shows it, to be closed when the command's steps are over. */
    record Display(Progress progress, AutoCloseable live) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            if (live != null) {
                live.close();
            }
        }
    }

    /** @param lastLogLine the last log line of a process by name, shown while it loads */
    Display display(CommandSpec spec, Function<String, String> lastLogLine) {
        if (quiet) {
            return new Display(Progress.QUIET, null);
        }
        if (EpdctlCommand.terminal(spec).err()) {
            LiveProgress live = new LiveProgress(spec.commandLine().getErr(), lastLogLine, System.getenv());
            return new Display(live, live);
        }
        return new Display(Progress.lines(spec.commandLine().getErr()), null);
    }
}
