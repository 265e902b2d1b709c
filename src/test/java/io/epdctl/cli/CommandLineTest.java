package io.epdctl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.Cli;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
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
