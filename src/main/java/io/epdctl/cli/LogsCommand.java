package io.epdctl.cli;

import io.epdctl.lifecycle.HostTargets;
import io.epdctl.lifecycle.ProcessControl;
import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
import io.epdctl.state.StateStore;
import io.epdctl.transport.HostConnections;
import io.epdctl.transport.TransportException;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "logs",
        mixinStandardHelpOptions = true,
        description = {"Prints a node's log (or the proxy's: NODE proxy) from whichever host it runs on; without NODE, "
                + "every node's and the proxy's, merged in the order they were written, each line after its process's name.",
            "A line's time is its own (vLLM's 'INFO 12-01 10:23:45', or an ISO-8601 time at its start), else that of the "
                    + "timed line before it; a log with no times of its own (the proxy's) counts as written when it was last "
                    + "modified, and lines that arrive while following count as written when epdctl reads them. --since "
                    + "and --timestamps use that time."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:the logs were printed (with -f: until interrupted, which exits 130)",
            "1:a host cannot be reached, a log cannot be read, the deployment is not recorded, or the state "
                    + "directory cannot be used",
            "2:invalid command line, an unknown node, or several deployments are recorded and none was named"})
public final class LogsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "NODE",
            description = "The node's name, or proxy; left out: every process of the deployment.")
    String node;

    @Mixin
    DeploymentOption deployment;

    @Option(names = {"-n", "--lines"}, paramLabel = "N", defaultValue = "100",
            description = "How many lines of each log (default: ${DEFAULT-VALUE}).")
    int lines;

    @Option(names = {"-f", "--follow"}, description = "Keep printing what is appended, until interrupted.")
    boolean follow;

    @Option(names = "--since", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Only lines written in the last DURATION (e.g. 10m), of the last N.")
    Duration since;

    @Option(names = {"-t", "--timestamps"}, description = "Print each line's time (as above) before it.")
    boolean timestamps;

    @Option(names = {"-p", "--previous"}, description = "The log of the run before the current one (NODE.log.1: the run "
            + "that crashed, when the restart policy started the node again).")
    boolean previous;

    @Mixin
    StateOptions stateOptions;

    @Mixin
    ConnectionOptions connectionOptions;

    @Override
    public Integer call() throws Exception {
        if (lines < 0) {
            throw new UserException(ExitCodes.INVALID_INPUT, "--lines must not be negative");
        }
        if (previous && follow) {
            throw new UserException(ExitCodes.INVALID_INPUT, "--previous and --follow cannot be combined: a previous run's log "
                    + "is no longer written");
        }
        StateStore store = stateOptions.store();
        String name = deployment.resolve(store);
        DeploymentState state = StateOptions.recorded(store, name);
        List<ProcessRecord> processes = node == null ? state.processes() : List.of(state.process(node).orElseThrow(() ->
                new UserException(ExitCodes.INVALID_INPUT, "deployment " + name + " has no node " + node + "; it has: "
                        + String.join(", ", state.processes().stream().map(ProcessRecord::name).toList()))));
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        boolean styled = EpdctlCommand.terminal(spec).out();
        int width = node == null ? processes.stream().mapToInt(process -> process.name().length()).max().orElse(0) : 0;
        ZoneId zone = ZoneId.systemDefault();
        Instant start = Instant.now();
        Instant from = since == null ? null : start.minus(since);
        AtomicBoolean failed = new AtomicBoolean();
        List<String> hosts = processes.stream().map(ProcessRecord::host).distinct().toList();
        try (HostConnections connections = connectionOptions.open(
                hosts.stream().map(host -> HostTargets.target(state.hosts().get(host))).toList())) {
            ProcessControl control = new ProcessControl(connections);
            List<ProcessControl.LogRead> reads = control.logBacklogs(processes, lines, previous);
            List<List<LogLines.Line>> backlogs = new ArrayList<>();
            for (ProcessControl.LogRead read : reads) {
                if (read.failure() != null) {
                    failed.set(true);
                    err.println("epdctl: " + read.failure());
                    continue;
                }
                backlogs.add(LogLines.since(LogLines.backlog(read.process().name(), read.backlog().lines(),
                        read.backlog().modified(), zone, start), from));
            }
            for (LogLines.Line line : LogLines.merge(backlogs)) {
                out.println(LogLines.format(line, width, processes.indexOf(process(processes, line.process())),
                        timestamps, styled, zone));
            }
            out.flush();
            if (follow) {
                followAll(control, reads, processes, width, styled, zone, failed);
            }
        }
        return failed.get() ? ExitCodes.FAILURE : ExitCodes.OK;
    }

    /** Every readable log followed at once, each on its own thread, its lines printed as they come. */
    private void followAll(ProcessControl control, List<ProcessControl.LogRead> reads, List<ProcessRecord> processes,
            int width, boolean styled, ZoneId zone, AtomicBoolean failed) throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<Thread> followers = new ArrayList<>();
        for (ProcessControl.LogRead read : reads) {
            if (read.failure() != null) {
                continue;
            }
            ProcessRecord process = read.process();
            int colour = processes.indexOf(process);
            Thread follower = new Thread(() -> {
                try (LineStream sink = new LineStream(text -> print(out, LogLines.format(
                        LogLines.followed(process.name(), text, zone, Instant.now()), width, colour, timestamps, styled, zone)));
                        LineStream errors = new LineStream(text -> print(err, text))) {
                    if (control.followLog(process, read.backlog().lineCount(), sink, errors) != 0) {
                        failed.set(true);
                    }
                } catch (TransportException e) {
                    failed.set(true);
                    print(err, "epdctl: " + e.getMessage());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "epdctl-logs-" + process.name());
            follower.setDaemon(true);
            follower.start();
            followers.add(follower);
        }
        try {
            for (Thread follower : followers) {
                follower.join();
            }
        } finally {
            followers.forEach(Thread::interrupt);
        }
    }

    private static ProcessRecord process(List<ProcessRecord> processes, String name) {
        return processes.stream().filter(process -> process.name().equals(name)).findFirst().orElseThrow();
    }

    /** Whole lines only, so that lines of several logs never mix within one. */
    private static void print(PrintWriter writer, String line) {
        synchronized (writer) {
            writer.println(line);
            writer.flush();
        }
    }

    /**
     * Bytes from the host, handed on a whole line at a time (without its newline) and decoded as UTF-8 then:
     * a chunk may end in the middle of a character.
     */
    private static final class LineStream extends OutputStream {
        private final Consumer<String> lines;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        LineStream(Consumer<String> lines) {
            this.lines = lines;
        }

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) {
            for (int i = offset; i < offset + length; i++) {
                if (bytes[i] == '\n') {
                    lines.accept(pending.toString(StandardCharsets.UTF_8));
                    pending.reset();
                } else {
                    pending.write(bytes[i]);
                }
            }
        }

        @Override
        public void close() {
            if (pending.size() > 0) {
                lines.accept(pending.toString(StandardCharsets.UTF_8));
                pending.reset();
            }
        }
    }
}
