package io.epdctl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The verbs and flags operators bring from other tools, through the real command line: exit code and message. */
class VerbsCommandTest {
    @TempDir
    static Path dir;

    static Stream<Arguments> cases() {
        String state = dir.resolve("empty-state").toString();
        return Stream.of(
                Arguments.of(new String[] {"help"}, 0, "out", "Commands:"),
                Arguments.of(new String[] {"help"}, 0, "out", "ls "),
                Arguments.of(new String[] {"help", "status"}, 0, "out", "-d, --deployment=NAME"),
                Arguments.of(new String[] {"help", "nosuch"}, 2, "err", "Unknown subcommand 'nosuch'"),
                Arguments.of(new String[] {"completion", "bash"}, 0, "out", "complete -F _complete_epdctl"),
                Arguments.of(new String[] {"completion", "zsh"}, 0, "out", "bashcompinit"),
                Arguments.of(new String[] {"completion", "fish"}, 2, "err",
                        "epdctl: completion: unknown shell 'fish'; bash and zsh are supported"),
                Arguments.of(new String[] {"--version"}, 0, "out", "commit unknown"),
                Arguments.of(new String[] {"status", "-o", "yaml", "--state-dir", state}, 2, "err",
                        "Invalid value for option '--output': expected one of [table, wide, json] (case-sensitive) but was 'yaml'"),
                Arguments.of(new String[] {"status", "-o", "json", "--state-dir", state}, 1, "err",
                        "epdctl: no deployment is recorded in " + state + "; nothing runs"),
                Arguments.of(new String[] {"status", "--json", "--state-dir", state}, 1, "err", "no deployment is recorded"),
                Arguments.of(new String[] {"status", "-d", "a", "b", "--state-dir", state}, 2, "err",
                        "epdctl: two deployments named: -d a and b; name one"),
                Arguments.of(new String[] {"status", "-d", "nosuch", "--state-dir", state}, 1, "err",
                        "epdctl: deployment nosuch is not recorded; nothing runs"),
                Arguments.of(new String[] {"status", "nosuch", "--state-dir", state}, 1, "err",
                        "epdctl: deployment nosuch is not recorded; nothing runs"),
                Arguments.of(new String[] {"ls", "--state-dir", state}, 0, "err", "epdctl: no deployment is recorded in " + state),
                Arguments.of(new String[] {"ls", "-o", "json", "--state-dir", state}, 0, "out", "\"deployments\" : [ ]"),
                Arguments.of(new String[] {"ls", "--json", "--state-dir", state}, 0, "out", "\"deployments\" : [ ]"),
                Arguments.of(new String[] {"down", "-d", "nosuch", "--state-dir", state}, 0, "err",
                        "epdctl: deployment nosuch is not recorded; nothing to stop"),
                Arguments.of(new String[] {"down", "--state-dir", state}, 0, "err", "epdctl: no deployment is recorded; nothing to stop"),
                Arguments.of(new String[] {"down", "-q", "--state-dir", state}, 0, "err", ""),
                Arguments.of(new String[] {"logs", "-n", "-1", "--state-dir", state}, 2, "err", "--lines must not be negative"),
                Arguments.of(new String[] {"logs", "--since", "soon", "--state-dir", state}, 2, "err", "'soon' is not a duration"),
                Arguments.of(new String[] {"logs", "--previous", "-f", "--state-dir", state}, 2, "err",
                        "--previous and --follow cannot be combined: a previous run's log is no longer written"),
                Arguments.of(new String[] {"logs", "-d", "nosuch", "--state-dir", state}, 1, "err",
                        "epdctl: deployment nosuch is not recorded; nothing runs"),
                Arguments.of(new String[] {"up", "-q", dir.resolve("missing.yaml").toString(), "--state-dir", state}, 2, "err",
                        "missing.yaml"));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void answersWithItsExitCodeAndMessage(String[] args, int exitCode, String stream, String expected) {
        Cli.Result result = Cli.run(args);

        assertThat(result.exitCode()).as(result.toString()).isEqualTo(exitCode);
        String text = stream.equals("out") ? result.out() : result.err();
        if (expected.isEmpty()) {
            assertThat(text).as(result.toString()).isEmpty();
        } else {
            assertThat(text).as(result.toString()).contains(expected);
        }
        assertThat(result.out() + result.err()).as("no control codes where the output is no terminal").doesNotContain("\033");
    }

    @Test
    void downOfADeploymentNeverRecordedLeavesNoDirectory() throws Exception {
        Path state = dir.resolve("one-state");
        Files.createDirectories(state.resolve("real"));
        Cli.Result down = Cli.run("down", "-d", "nosuch", "--state-dir", state.toString());

        assertThat(down.exitCode()).as(down.toString()).isZero();
        assertThat(down.err()).isEqualTo("epdctl: deployment nosuch is not recorded; nothing to stop\n");
        assertThat(state.resolve("nosuch")).doesNotExist();
    }

    @Test
    void theStateDirectoryFollowsHome() {
        assertThat(StateOptions.defaultDirectory(Map.of("HOME", "/tmp/h"), "/root")).isEqualTo(Path.of("/tmp/h/.epdctl"));
        assertThat(StateOptions.defaultDirectory(Map.of("HOME", "/tmp/h", "EPDCTL_HOME", "/srv/e"), "/root"))
                .isEqualTo(Path.of("/srv/e"));
        assertThat(StateOptions.defaultDirectory(Map.of("HOME", " "), "/root")).isEqualTo(Path.of("/root/.epdctl"));
        assertThat(StateOptions.defaultDirectory(Map.of(), "/root")).isEqualTo(Path.of("/root/.epdctl"));
    }

    @Test
    void theHelpOfEveryCommandNamesTheDeploymentTheSameWay() {
        for (String command : new String[] {"status", "down", "logs"}) {
            Cli.Result help = Cli.run(command, "--help");
            assertThat(help.out()).as(command).contains("-d, --deployment=NAME");
        }
    }
}
