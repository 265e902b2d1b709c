package io.epdctl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.transport.TransportException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** How {@link Failure} maps exceptions that are hard to provoke through the command line. */
class FailureTest {

    record Case(String what, Throwable thrown, Failure expected) {
        @Override
        public String toString() {
            return what;
        }
    }

    private static final Failure INTERRUPTED = new Failure(ExitCodes.INTERRUPTED, "interrupted", false);

    static Stream<Case> cases() {
        return Stream.of(
                new Case("an interrupt", new InterruptedException(), INTERRUPTED),
                new Case("a state file channel closed by an interrupt", new ClosedByInterruptException(), INTERRUPTED),
                // What SshTransport and LocalTransport throw when the thread running a command is interrupted.
                new Case("a transport interrupted while waiting to run a command",
                        new TransportException("far: interrupted while waiting to run a command", new InterruptedException()), INTERRUPTED),
                new Case("a transport interrupted while waiting for a command",
                        new TransportException("far: interrupted while waiting for a command; stopped it", new InterruptedException()),
                        INTERRUPTED),
                new Case("an interrupt wrapped twice",
                        new IllegalStateException("task for far failed", new IllegalStateException(new InterruptedException())),
                        INTERRUPTED),
                new Case("a host that cannot be reached", new TransportException("far: no route to host"),
                        new Failure(ExitCodes.FAILURE, "far: no route to host", false)),
                new Case("a bug", new IllegalStateException("a bug"),
                        new Failure(ExitCodes.INTERNAL_ERROR, "internal error: java.lang.IllegalStateException: a bug", true)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void eachExceptionHasItsExitCodeAndMessage(Case failure) {
        assertThat(Failure.of(failure.thrown(), "status", Path.of("/x/state"))).isEqualTo(failure.expected());
    }
}
