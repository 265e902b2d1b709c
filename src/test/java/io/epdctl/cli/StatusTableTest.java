package io.epdctl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.lifecycle.StatusReport;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** How status writes a process's last exit in its LAST EXIT column. */
class StatusTableTest {
    private static final Instant NOW = Instant.parse("2026-12-02T01:10:00Z");

    static Stream<Arguments> exits() {
        return Stream.of(
                Arguments.of(null, false, "-"),
                Arguments.of(new StatusReport.LastExit("2026-12-02T01:09:48Z", 137, "KILL", "killed by signal 9 (KILL)", "restart"),
                        false, "SIGKILL 12s ago"),
                Arguments.of(new StatusReport.LastExit("2026-12-02T01:07:00Z", 1, null, "exited with status 1", "crash-loop"),
                        false, "status 1 3m ago"),
                Arguments.of(new StatusReport.LastExit("2026-12-02T01:07:00Z", 1, null, "exited with status 1", "crash-loop"),
                        true, "status 1 at 2026-12-02T01:07:00Z"),
                Arguments.of(new StatusReport.LastExit("2026-12-02T01:10:05Z", 139, "SEGV", "killed by signal 11 (SEGV)", "restart"),
                        false, "SIGSEGV 0s ago"));
    }

    @ParameterizedTest
    @MethodSource("exits")
    void writesTheLastExitShortlyOrWithItsTime(StatusReport.LastExit exit, boolean wide, String expected) {
        assertThat(StatusCommand.lastExit(exit, wide, NOW)).isEqualTo(expected);
    }
}
