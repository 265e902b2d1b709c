package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

/** What the host prints for a log's backlog, read back: a line of the log that looks like a report is a log line. */
class LogBacklogParsingTest {
    @Test
    void theLinesAfterTheirBarAndTheReportedCountAndTime() {
        ProcessControl.LogBacklog backlog = HostCommands.backlog("login banner\n@epdctl log 42 1764626400\n|first\n"
                + "|@epdctl log 1 1\n|\n|last\n");

        assertThat(backlog.lines()).containsExactly("first", "@epdctl log 1 1", "", "last");
        assertThat(backlog.lineCount()).isEqualTo(42);
        assertThat(backlog.modified()).isEqualTo(Instant.ofEpochSecond(1764626400));
        assertThat(HostCommands.backlog("|only lines\n")).isNull();
    }
}
