package io.epdctl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class LogLinesTest {
    private static final ZoneId UTC = ZoneOffset.UTC;
    private static final Instant NOW = Instant.parse("2026-12-01T22:00:00Z");

    static Stream<Arguments> times() {
        return Stream.of(
                Arguments.of("(APIServer pid=12) INFO 12-01 21:59:30 [api_server.py:1] Starting", "2026-12-01T21:59:30Z"),
                Arguments.of("WARNING 11-30 08:00:00 [x.py:2] slow", "2026-11-30T08:00:00Z"),
                // vLLM writes no year: a date ahead of now is last year's
                Arguments.of("INFO 12-31 23:00:00 [x.py:2] new year", "2025-12-31T23:00:00Z"),
                Arguments.of("2026-12-01T21:00:00Z something", "2026-12-01T21:00:00Z"),
                Arguments.of("2026-12-01 21:00:00,123 INFO python logging", "2026-12-01T21:00:00.123Z"),
                Arguments.of("[2026-12-01T23:00:00+02:00] offset", "2026-12-01T21:00:00Z"),
                Arguments.of("epdctl proxy: listening on 127.0.0.1:8001", null),
                Arguments.of("Traceback (most recent call last):", null),
                Arguments.of("INFO 13-45 99:00:00 not a date", null));
    }

    @ParameterizedTest
    @MethodSource("times")
    void aLineCarriesItsOwnTimeWhenItBeginsWithOne(String line, String expected) {
        assertThat(LogLines.ownTime(line, UTC, NOW)).isEqualTo(expected == null ? null : Instant.parse(expected));
    }

    @Test
    void linesWithoutATimeTakeTheTimedLineBeforeThemAndALogWithoutTimesItsModification() {
        Instant modified = Instant.parse("2026-12-01T20:00:00Z");
        List<LogLines.Line> timed = LogLines.backlog("p0", List.of("leading", "ERROR 12-01 21:00:00 [x] boom",
                "Traceback (most recent call last):", "INFO 12-01 21:30:00 [x] later"), modified, UTC, NOW);
        List<LogLines.Line> untimed = LogLines.backlog("proxy", List.of("epdctl proxy: a", "epdctl proxy: b"), modified, UTC, NOW);

        assertThat(timed).extracting(LogLines.Line::time).containsExactly(Instant.parse("2026-12-01T21:00:00Z"),
                Instant.parse("2026-12-01T21:00:00Z"), Instant.parse("2026-12-01T21:00:00Z"), Instant.parse("2026-12-01T21:30:00Z"));
        assertThat(untimed).extracting(LogLines.Line::time).containsOnly(modified);
        assertThat(LogLines.since(timed, Instant.parse("2026-12-01T21:10:00Z"))).extracting(LogLines.Line::text)
                .containsExactly("INFO 12-01 21:30:00 [x] later");
        assertThat(LogLines.since(untimed, Instant.parse("2026-12-01T21:10:00Z"))).isEmpty();
        assertThat(LogLines.followed("proxy", "epdctl proxy: c", UTC, NOW).time()).isEqualTo(NOW);
    }

    @Test
    void severalLogsMergeInTheOrderTheyWereWrittenAndPrintAfterAlignedNames() {
        List<LogLines.Line> e0 = LogLines.backlog("e0", List.of("INFO 12-01 21:00:01 [x] e-first", "INFO 12-01 21:00:03 [x] e-last"),
                NOW, UTC, NOW);
        List<LogLines.Line> proxy = LogLines.backlog("proxy", List.of("INFO 12-01 21:00:02 [x] p-middle"), NOW, UTC, NOW);
        List<LogLines.Line> merged = LogLines.merge(List.of(e0, proxy));

        assertThat(merged).extracting(LogLines.Line::process).containsExactly("e0", "proxy", "e0");
        assertThat(LogLines.format(merged.get(0), 5, 0, false, false, UTC)).isEqualTo("e0    | INFO 12-01 21:00:01 [x] e-first");
        assertThat(LogLines.format(merged.get(1), 5, 1, true, false, UTC))
                .isEqualTo("proxy | 2026-12-01T21:00:02Z INFO 12-01 21:00:02 [x] p-middle");
        assertThat(LogLines.format(merged.get(0), 0, 0, false, false, UTC)).isEqualTo("INFO 12-01 21:00:01 [x] e-first");
        assertThat(LogLines.format(merged.get(0), 5, 0, false, true, UTC)).startsWith("\033[36me0    |\033[0m ");
    }
}
