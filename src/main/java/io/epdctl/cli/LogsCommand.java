package io.epdctl.cli;

import io.epdctl.transport.HostConnections;
import io.epdctl.lifecycle.HostTargets;
import io.epdctl.lifecycle.ProcessControl;
import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
import io.epdctl.state.StateStore;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "logs",
        mixinStandardHelpOptions = true,
        description = "Prints a node's log (or the proxy's: NODE proxy) from whichever host it runs on.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:the log was printed (with -f: until interrupted, which exits 130)",
            "1:the host cannot be reached, the log cannot be read, the deployment is not recorded, or the state "
                    + "directory cannot be used",
            "2:invalid command line, an unknown node, or several deployments are recorded and none was named"})
public final class LogsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NODE", description = "The node's name, or proxy.")
    String node;

    @Option(names = {"-d", "--deployment"}, paramLabel = "NAME",
            description = "The deployment; optional when only one is recorded.")
    String deployment;

    @Option(names = {"-n", "--lines"}, paramLabel = "N", defaultValue = "100", description = "How many lines (default: ${DEFAULT-VALUE}).")
    int lines;

    @Option(names = {"-f", "--follow"}, description = "Keep printing what is appended, until interrupted.")
    boolean follow;

    @Mixin
    StateOptions stateOptions;

    @Mixin
    ConnectionOptions connectionOptions;

    @Override
    public Integer call() throws Exception {
        if (lines < 0) {
            throw new UserException(ExitCodes.INVALID_INPUT, "--lines must not be negative");
        }
        StateStore store = stateOptions.store();
        String name = StateOptions.deploymentName(store, deployment);
        DeploymentState state = StateOptions.recorded(store, name);
        ProcessRecord process = state.process(node).orElseThrow(() -> new UserException(ExitCodes.INVALID_INPUT,
                "deployment " + name + " has no node " + node + "; it has: "
                        + String.join(", ", state.processes().stream().map(ProcessRecord::name).toList())));
        PrintWriter out = spec.commandLine().getOut();
        try (HostConnections connections = connectionOptions.open(List.of(HostTargets.target(state.hosts().get(process.host()))))) {
            try (WriterStream sink = new WriterStream(out); WriterStream errors = new WriterStream(spec.commandLine().getErr())) {
                int exit = new ProcessControl(connections).streamLog(process, lines, follow, sink, errors);
                return exit == 0 ? ExitCodes.OK : ExitCodes.FAILURE;
            }
        }
    }

    /**
     * Bytes from the host into picocli's writer (so tests can capture them), decoded as UTF-8 a whole line
     * at a time: a chunk may end in the middle of a character.
     */
    private static final class WriterStream extends OutputStream {
        private final PrintWriter writer;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        WriterStream(PrintWriter writer) {
            this.writer = writer;
        }

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) {
            for (int i = offset; i < offset + length; i++) {
                pending.write(bytes[i]);
                if (bytes[i] == '\n') {
                    flush();
                }
            }
        }

        @Override
        public void flush() {
            writer.write(pending.toString(StandardCharsets.UTF_8));
            writer.flush();
            pending.reset();
        }

        @Override
        public void close() {
            flush();
        }
    }
}
