package io.epdctl.cli;

import java.io.PrintWriter;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionStrategy;
import picocli.CommandLine.Model.UsageMessageSpec;

/** Entry point of the {@code epdctl} jar. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        System.exit(commandLine(out, err, Terminal.ofThisProcess()).execute(args));
    }

    /** The whole CLI, writing data to {@code out} and messages to {@code err}; tests run it as is. */
    public static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        return commandLine(out, err, Terminal.PLAIN);
    }

    /** The CLI writing to streams that {@code terminal} says may be coloured and redrawn. */
    public static CommandLine commandLine(PrintWriter out, PrintWriter err, Terminal terminal) {
        CommandLine commandLine = commandLine(new EpdctlCommand(terminal), out, err);
        // picocli's own help command says nothing of its exit codes: what it does is said here.
        commandLine.getSubcommands().get("help").getCommandSpec().usageMessage()
                .exitCodeList(Map.of("0", "the help was printed", "2", "an unknown COMMAND"));
        listCommonExitCodes(commandLine);
        return commandLine;
    }

    /** A command line for {@code root} with epdctl's error handling; tests give it commands that fail on purpose. */
    static CommandLine commandLine(Object root, PrintWriter out, PrintWriter err) {
        CommandLine commandLine = new CommandLine(root);
        commandLine.setOut(out);
        commandLine.setErr(err);
        ErrorHandler errors = new ErrorHandler();
        commandLine.setExecutionExceptionHandler(errors);
        commandLine.setExitCodeExceptionMapper(errors);
        // picocli hands Exceptions to the handler and lets Errors (out of memory, stack overflow) escape.
        IExecutionStrategy runLast = new CommandLine.RunLast();
        commandLine.setExecutionStrategy(parseResult -> {
            try {
                return runLast.execute(parseResult);
            } catch (Error e) {
                List<CommandLine> commands = parseResult.asCommandLineList();
                return errors.handleError(e, commands.get(commands.size() - 1));
            }
        });
        return commandLine;
    }

    /** Every command's --help lists its own exit codes, then those any command may end with. */
    private static void listCommonExitCodes(CommandLine command) {
        UsageMessageSpec usage = command.getCommandSpec().usageMessage();
        Map<String, String> codes = new TreeMap<>(Comparator.comparingInt(code -> Integer.parseInt(code.strip())));
        codes.putAll(usage.exitCodeList());
        ExitCodes.EVERY_COMMAND.forEach(codes::putIfAbsent);
        usage.exitCodeListHeading("%nExit codes:%n").exitCodeList(codes);
        command.getSubcommands().values().forEach(Main::listCommonExitCodes);
    }
}
