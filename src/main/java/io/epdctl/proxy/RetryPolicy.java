package io.epdctl.proxy;

import java.time.Duration;
import java.util.Optional;

/** How often and how soon a backend call that failed before its answer is tried again (--max-retries, --retry-delay). */
record RetryPolicy(int maxAttempts, Duration firstDelay) {
    /** After {@code failedAttempts} failed attempts (1 or more): the wait before the next one, or none left. */
    Optional<Duration> delayAfter(int failedAttempts) {
        if (failedAttempts >= maxAttempts) {
            return Optional.empty();
        }
        // doubled for each further retry, as the script's backoff
        return Optional.of(firstDelay.multipliedBy(1L << Math.min(failedAttempts - 1, 30)));
    }
}
