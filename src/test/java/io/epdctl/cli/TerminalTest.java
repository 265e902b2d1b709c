package io.epdctl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.lifecycle.Progress;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class TerminalTest {
    static Stream<Arguments> decisions() {
        return Stream.of(
                Arguments.of(Map.of("TERM", "xterm"), true, true, new Terminal(true, true)),
                Arguments.of(Map.of("TERM", "xterm"), false, true, new Terminal(false, true)),
                Arguments.of(Map.of("TERM", "xterm"), true, false, new Terminal(true, false)),
                Arguments.of(Map.of(), false, false, Terminal.PLAIN),
                Arguments.of(Map.of("TERM", "xterm", "NO_COLOR", "1"), true, true, Terminal.PLAIN),
                // no-color.org: set and not empty
                Arguments.of(Map.of("TERM", "xterm", "NO_COLOR", ""), true, true, new Terminal(true, true)),
                Arguments.of(Map.of("TERM", "dumb"), true, true, Terminal.PLAIN));
    }

    @ParameterizedTest
    @MethodSource("decisions")
    void onlyATerminalWithoutNoColorGetsControlCodes(Map<String, String> env, boolean out, boolean err, Terminal expected) {
        assertThat(Terminal.decide(env, out, err)).isEqualTo(expected);
    }

    @Test
    void tablesAreColouredOnlyWhenStyledAndAlignTheSameEitherWay() {
        Table table = new Table(1, "NODE", "STATE", "REASON").row("e0", "ready", "").row("proxy", "unhealthy", "no healthy decode");
        String plain = table.render(false);
        String styled = table.render(true);

        assertThat(plain).isEqualTo("NODE   STATE      REASON\ne0     ready\nproxy  unhealthy  no healthy decode")
                .doesNotContain("\033");
        assertThat(styled).contains("\033[32mready\033[0m", "\033[31munhealthy\033[0m");
        assertThat(styled.replaceAll("\033\\[[0-9;]*m", "")).isEqualTo(plain);
    }

    @Test
    void plainProgressPrintsStepsAsLinesAndLeavesTransitionsOut() {
        StringWriter text = new StringWriter();
        Progress progress = Progress.lines(new PrintWriter(text));
        progress.step("e0", Progress.Step.STARTING, "starting on local");
        progress.step("e0", Progress.Step.STARTED, "started on local, pid 12");
        progress.note("waiting 15.0 s for e0 (not listening yet)");
        progress.step("e0", Progress.Step.READY, "ready after 1.2 s");
        progress.say("deployment x is ready");

        assertThat(text.toString()).isEqualTo("  e0: started on local, pid 12\n  waiting 15.0 s for e0 (not listening yet)\n"
                + "  e0: ready after 1.2 s\nepdctl: deployment x is ready\n");
    }

    @Test
    void liveProgressRedrawsOneLinePerProcessInPlace() throws Exception {
        StringWriter text = new StringWriter();
        try (LiveProgress live = new LiveProgress(new PrintWriter(text), name -> "INFO loading weights", Map.of("COLUMNS", "60"))) {
            live.step("e0", Progress.Step.STARTING, "starting on local");
            live.step("proxy", Progress.Step.STARTING, "starting on local");
            live.say("a message");
            live.step("e0", Progress.Step.READY, "ready after 1.2 s");
        }
        String screen = text.toString();

        assertThat(screen).contains("epdctl: a message\n")
                .contains("\r\033[2A\033[J") // back over the two lines before redrawing them
                .containsPattern(" e0     \033\\[32mready\033\\[0m +\\d+\\.\\ds  ");
        for (String line : screen.split("\n")) {
            assertThat(Terminal.visibleLength(line.replaceAll("\r\033\\[\\d*A\033\\[J", ""))).as(line).isLessThan(60);
        }
    }

    @Test
    void theColumnsOfTheTerminalBoundTheLines() {
        assertThat(LiveProgress.columns(Map.of("COLUMNS", "80"))).isEqualTo(80);
        assertThat(LiveProgress.columns(Map.of("COLUMNS", "x"))).isEqualTo(120);
        assertThat(LiveProgress.columns(Map.of())).isEqualTo(120);
    }
}
