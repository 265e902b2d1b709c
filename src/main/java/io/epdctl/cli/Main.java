package io.epdctl.cli;

import java.io.PrintWriter;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.IExecutionStrategy;
import picocli.CommandLine.Model.UsageMessageSpec;

/** Entry point of the {@code epdctl} jar. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        System.exit(commandLine(out, err, Terminal.ofThisProcess(), subcommandsFor(args)).execute(args));
    }

    /** The whole CLI, writing data to {@code out} and messages to {@code err}; tests run it as is. */
    public static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        return commandLine(out, err, Terminal.PLAIN, EpdctlCommand.SUBCOMMANDS);
    }

    /** The CLI as {@link #main} builds it to run {@code args}: with only the subcommands they need. */
    public static CommandLine commandLineFor(String[] args, PrintWriter out, PrintWriter err) {
        return commandLine(out, err, Terminal.PLAIN, subcommandsFor(args));
    }

    /**
     * The subcommands a run with {@code args} needs: the one it names, or all of them (none named, help, and
     * completion, which read the others). Building every command took a third of the proxy's start, which is on
     * the critical path of a change: picocli reads each option of a command by reflection.
     */
    static List<Class<?>> subcommandsFor(String[] args) {
        if (args.length == 0) {
            return EpdctlCommand.SUBCOMMANDS;
        }
        return EpdctlCommand.SUBCOMMANDS.stream()
                .filter(command -> command != HelpCommand.class && command != CompletionCommand.class)
                .filter(command -> command.getAnnotation(Command.class).name().equals(args[0]))
                .<List<Class<?>>>map(List::of).findFirst().orElse(EpdctlCommand.SUBCOMMANDS);
    }

    private static CommandLine commandLine(PrintWriter out, PrintWriter err, Terminal terminal, List<Class<?>> subcommands) {
        CommandLine commandLine = new CommandLine(new EpdctlCommand(terminal));
        // a CommandLine of its own applies the command's model transformer (picocli applies those of annotated
        // subcommands only); added before the streams and handlers below are set, so that they reach it
        subcommands.forEach(command -> commandLine.addSubcommand(new CommandLine(command)));
        // picocli's own help command says nothing of its exit codes: what it does is said here.
        CommandLine help = commandLine.getSubcommands().get("help");
        if (help != null) {
            help.getCommandSpec().usageMessage().exitCodeList(Map.of("0", "the help was printed", "2", "an unknown COMMAND"));
        }
        listCommonExitCodes(commandLine);
        return withErrorHandling(commandLine, out, err);
    }

    /** A command line for {@code root} with epdctl's error handling; tests give it commands that fail on purpose. */
    static CommandLine commandLine(Object root, PrintWriter out, PrintWriter err) {
        return withErrorHandling(new CommandLine(root), out, err);
    }

    private static CommandLine withErrorHandling(CommandLine commandLine, PrintWriter out, PrintWriter err) {
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
