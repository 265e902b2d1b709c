package io.epdctl.topology;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.epdctl.topology.ProxyTuning.Flag;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The one definition of the built-in proxy's tuning flags: defaults, what each takes, the values they give. */
class ProxyTuningTest {
    @Test
    void defaults() {
        ProxyTuning defaults = ProxyTuning.defaults();

        assertThat(defaults.maxRetries()).isEqualTo(3);
        assertThat(defaults.retryDelay()).isEqualTo(Duration.ofMillis(1));
        assertThat(defaults.backendTimeout()).isEqualTo(Duration.ofMinutes(10));
        assertThat(defaults.healthInterval()).isEqualTo(Duration.ofSeconds(2));
        assertThat(defaults.eventLoops()).isEqualTo(1);
        assertThat(defaults.drainTimeout()).isEqualTo(Duration.ofSeconds(20));
        assertThat(Flag.flags()).containsExactly("max-retries", "retry-delay", "backend-timeout", "health-interval",
                "event-loops", "drain-timeout", "encoder-dispatch-mode");
        assertThat(defaults.encoderDispatch()).isEqualTo(ProxyTuning.EncoderDispatch.SINGLE);
        assertThat(Flag.ENCODER_DISPATCH_MODE.paramLabel()).isEqualTo("single|fanout");
        assertThat(Flag.ENCODER_DISPATCH_MODE.help()).endsWith("(default: single).");
        assertThat(Flag.MAX_RETRIES.help()).endsWith("(default: 3).");
        assertThat(Flag.EVENT_LOOPS.help()).endsWith("(default: 1).");
    }

    @ParameterizedTest(name = "--{0} {1}")
    @CsvSource(delimiter = '|', nullValues = "ok", value = {
        "max-retries     | 5     | ok",
        "max-retries     | 1     | ok",
        "max-retries     | 0     | expected a whole number of at least 1, got 0",
        "max-retries     | 2.5   | expected a whole number of at least 1, got '2.5'",
        "retry-delay     | 0     | ok",
        "retry-delay     | 0.25  | ok",
        "retry-delay     | -1    | expected a number of seconds, 0 or more, got -1",
        "retry-delay     | soon  | expected a number of seconds, 0 or more, got 'soon'",
        "backend-timeout | 0     | ok",
        "backend-timeout | NaN   | expected a number of seconds, 0 or more, got NaN",
        "health-interval | 0.001 | ok",
        "health-interval | 0     | expected a number of seconds, at least 0.001, got 0",
        "event-loops     | 0     | expected a whole number of at least 1, got 0",
        "encoder-dispatch-mode | single | ok",
        "encoder-dispatch-mode | fanout | ok",
        "encoder-dispatch-mode | FANOUT | expected single or fanout, got 'FANOUT'",
        "encoder-dispatch-mode | 2      | expected single or fanout, got '2'",
    })
    void eachFlagSaysWhatItTakes(String flag, String value, String problem) {
        assertThat(Flag.of(flag).orElseThrow().problem(value)).isEqualTo(Optional.ofNullable(problem));
    }

    @Test
    void givenValuesWinOverTheDefaultsAndArgsGiveThem() {
        Map<Flag, String> args = ProxyTuning.in(Map.of("max-retries", new ArgValue.Single("5"),
                "retry-delay", new ArgValue.Single("0.25"), "event-loops", new ArgValue.Single("3"),
                "host", new ArgValue.Single("not a tuning flag")));

        ProxyTuning tuning = ProxyTuning.of(args);

        assertThat(args).containsOnlyKeys(Flag.MAX_RETRIES, Flag.RETRY_DELAY, Flag.EVENT_LOOPS);
        assertThat(tuning).isEqualTo(new ProxyTuning(5, Duration.ofMillis(250), Duration.ofMinutes(10),
                Duration.ofSeconds(2), 3));
        assertThat(ProxyTuning.of(Map.of(Flag.BACKEND_TIMEOUT, "0")).backendTimeout()).isZero();
        assertThat(ProxyTuning.of(ProxyTuning.in(Map.of("encoder-dispatch-mode", new ArgValue.Single("fanout")))))
                .isEqualTo(ProxyTuning.defaults().withEncoderDispatch(ProxyTuning.EncoderDispatch.FANOUT));
    }

    @Test
    void valuesOutOfRangeAreRefusedWhereverTheyComeFrom() {
        assertThatThrownBy(() -> ProxyTuning.of(Map.of(Flag.MAX_RETRIES, "0")))
                .hasMessage("--max-retries: expected a whole number of at least 1, got 0");
        assertThatThrownBy(() -> new ProxyTuning(3, Duration.ofMillis(-1), Duration.ZERO, Duration.ofSeconds(1), 1))
                .hasMessageStartingWith("--retry-delay: expected a number of seconds, 0 or more");
        assertThatThrownBy(() -> ProxyTuning.of(Map.of(Flag.ENCODER_DISPATCH_MODE, "spread")))
                .hasMessage("--encoder-dispatch-mode: expected single or fanout, got 'spread'");
        assertThat(List.of(Flag.values())).allSatisfy(flag -> assertThat(flag.help()).contains("(default: "));
    }
}
