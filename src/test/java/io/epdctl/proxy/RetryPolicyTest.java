package io.epdctl.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** How soon a failed backend call is tried again, and when no attempt is left. */
class RetryPolicyTest {
    @ParameterizedTest(name = "{0} attempts, first delay {1} ms: after {2} failed, {3}")
    @CsvSource(nullValues = "none", value = {
        "3, 1,   1, 1",
        "3, 1,   2, 2",
        "3, 1,   3, none",
        "5, 250, 1, 250",
        "5, 250, 4, 2000",
        "5, 250, 5, none",
        "1, 1,   1, none",
        "4, 0,   1, 0",
    })
    void waitsTheDelayDoubledForEachFurtherRetry(int maxAttempts, long firstDelayMillis, int failed, Long delayMillis) {
        RetryPolicy policy = new RetryPolicy(maxAttempts, Duration.ofMillis(firstDelayMillis));

        assertThat(policy.delayAfter(failed)).isEqualTo(Optional.ofNullable(delayMillis).map(Duration::ofMillis));
    }
}
