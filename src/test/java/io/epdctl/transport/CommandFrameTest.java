package io.epdctl.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The frame's filter as pure parsing: what a host's login shell and the wrapper send, in any chunks. */
class CommandFrameTest {
    private static final Duration NO_WAIT = Duration.ZERO;

    /** The token of a frame, as its wrapper prints it. */
    private static String token(CommandFrame frame) {
        Matcher token = Pattern.compile("^echo (\\S+) \\$\\$;").matcher(frame.wrap("true"));
        assertThat(token.find()).isTrue();
        return token.group(1);
    }

    private static void feed(CommandFrame.Filter filter, String text, int chunk) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < bytes.length; i += chunk) {
            filter.write(bytes, i, Math.min(chunk, bytes.length - i));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 7, 1000})
    void whatTheLoginShellPrintsBeforeTheMarkerIsDroppedAndThePidComesFromTheMarker(int chunk) throws Exception {
        CommandFrame frame = new CommandFrame();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CommandFrame.Filter filter = frame.filter(out, null);

        // digits on a line of their own, then digits without a newline: the marker starts mid-line
        feed(filter, "31337\n4711" + token(frame) + " 2345\nout\n42\n", chunk);
        filter.close();

        assertThat(filter.awaitPid(NO_WAIT)).isEqualTo(2345);
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("out\n42\n");
    }

    @Test
    void theStderrMarkerCarriesNoPid() throws Exception {
        CommandFrame frame = new CommandFrame();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CommandFrame.Filter filter = frame.filter(err, null);

        feed(filter, "bash: pyenv: command not found\n" + token(frame) + "\nerr\n", 3);
        filter.close();

        assertThat(filter.awaitPid(NO_WAIT)).isEqualTo(-1);
        assertThat(err.toString(StandardCharsets.UTF_8)).isEqualTo("err\n");
    }

    @Test
    void withoutAMarkerWhatArrivedIsPassedOnAtTheEndAndThereIsNoPid() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CommandFrame.Filter filter = new CommandFrame().filter(out, null);

        feed(filter, "1234\nThis account is currently not available.\n", 5);
        assertThat(out.size()).isZero();
        filter.close();

        assertThat(filter.awaitPid(NO_WAIT)).isEqualTo(-1);
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("1234\nThis account is currently not available.\n");
    }

    @Test
    void anotherFramesTokenIsNotTheMarker() throws Exception {
        CommandFrame frame = new CommandFrame();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CommandFrame.Filter filter = frame.filter(out, null);

        feed(filter, token(new CommandFrame()) + " 99\n" + token(frame) + " 100\nout\n", 4);

        assertThat(filter.awaitPid(NO_WAIT)).isEqualTo(100);
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("out\n");
    }

    @Test
    void untilTheMarkerLineEndsThereIsNoPid() throws Exception {
        CommandFrame frame = new CommandFrame();
        CommandFrame.Filter filter = frame.filter(new ByteArrayOutputStream(), null);

        feed(filter, token(frame) + " 12", 100);
        assertThat(filter.awaitPid(NO_WAIT)).isEqualTo(-1);
        feed(filter, "3\n", 100);
        assertThat(filter.awaitPid(NO_WAIT)).isEqualTo(123);
    }

    @Test
    void aKillRunsToItsEndThroughRepeatedInterruptsAndHandsThemBack() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean killed = new AtomicBoolean();
        AtomicBoolean interruptedAfter = new AtomicBoolean();
        Thread caller = new Thread(() -> {
            CommandFrame.killThroughInterrupts(() -> {
                try {
                    release.await(); // a kill still waiting for its pid line, or for kill(1)
                    killed.set(true);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt(); // what the old in-thread kill did: give up
                }
            });
            interruptedAfter.set(Thread.currentThread().isInterrupted());
        });
        caller.start();
        for (int i = 0; i < 20; i++) {
            caller.interrupt();
            Thread.sleep(5);
        }
        assertThat(caller.isAlive()).as("the caller waits for the kill").isTrue();
        release.countDown();
        caller.join(10_000);

        assertThat(caller.isAlive()).isFalse();
        assertThat(killed).as("the kill ran to its end").isTrue();
        assertThat(interruptedAfter).as("the interrupts are the caller's again").isTrue();
    }
}
