package io.epdctl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.Cli;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;

class CommandLineTest {
    @Test
    void everyCommandAndOptionIsExplained() {
        CommandLine root = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
        assertThat(root.getSubcommands()).isNotEmpty();
        for (CommandLine command : root.getSubcommands().values()) {
            CommandSpec spec = command.getCommandSpec();
            assertThat(spec.usageMessage().description()).as(spec.qualifiedName()).isNotEmpty();
            for (ArgSpec arg : spec.args()) {
                assertThat(String.join("", arg.description())).as(spec.qualifiedName() + " " + arg.paramLabel()).isNotBlank();
            }
            Cli.Result help = Cli.run(spec.name(), "--help");
            assertThat(help.exitCode()).isZero();
            spec.options().forEach(option -> assertThat(help.out()).contains(option.longestName()));
        }
    }

    /** What main builds for a command line: the command it names, else the whole CLI. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("commandLines")
    void aCommandLineBuildsTheCommandItNamesOrAll(List<String> args, List<String> built) {
        CommandLine commandLine = Main.commandLineFor(args.toArray(String[]::new), new PrintWriter(new StringWriter()),
                new PrintWriter(new StringWriter()));

        List<String> all = List.copyOf(Main.commandLine(new PrintWriter(new StringWriter()),
                new PrintWriter(new StringWriter())).getSubcommands().keySet());
        assertThat(List.copyOf(commandLine.getSubcommands().keySet())).isEqualTo(built.isEmpty() ? all : built);
    }

    static Stream<Arguments> commandLines() {
        List<String> everyCommand = List.of();
        return Stream.of(
                Arguments.of(List.of("proxy", "--port", "8000"), List.of("proxy")),
                Arguments.of(List.of("status"), List.of("status")),
                Arguments.of(List.of("up", "--help"), List.of("up")),
                Arguments.of(List.of(), everyCommand),
                Arguments.of(List.of("--version"), everyCommand),
                Arguments.of(List.of("help", "proxy"), everyCommand),
                Arguments.of(List.of("completion", "bash"), everyCommand),
                Arguments.of(List.of("frobnicate"), everyCommand),
                Arguments.of(List.of("PROXY"), everyCommand));
    }

    @Test
    void topLevelHelpListsTheCommands() {
        Cli.Result help = Cli.run("--help");

        assertThat(help.exitCode()).isZero();
        assertThat(help.out()).contains("validate").contains("render").contains("Exit codes:");
    }

    /** The checks Preflight reports, each under the name check prints (and the table in docs/operations.md explains). */
    @Test
    void checkHelpNamesEveryCheck() {
        Cli.Result help = Cli.run("check", "--help");

        for (String check : new String[] {"login", "command", "model", "proxy", "ports", "port-range", "hand-over", "npus", "npu-links",
            "npu-types", "network", "ec-directory", "ec-shared"}) {
            assertThat(help.out()).as(check).containsPattern("(?m)^  " + check + " ");
        }
    }

    @Test
    void usageErrorsExitWithTwoAndSayWhat() {
        Cli.Result none = Cli.run();
        Cli.Result unknown = Cli.run("frobnicate");
        Cli.Result missingFile = Cli.run("validate");

        assertThat(none.exitCode()).isEqualTo(2);
        assertThat(none.err()).contains("a command is required");
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.err()).contains("Unmatched argument at index 0: 'frobnicate'");
        assertThat(missingFile.exitCode()).isEqualTo(2);
        assertThat(missingFile.err()).contains("Missing required parameter: 'FILE'");
    }
}
