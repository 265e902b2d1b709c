package io.epdctl.lifecycle;

import java.util.List;

/**
 * Lines in a node's log after which it will not become ready, so {@code up} stops waiting at once instead
 * of at the timeout. vLLM prints them before its process exits, which may take a while (engine teardown).
 */
final class FatalLog {
    private static final List<String> MARKERS = List.of(
            "Traceback (most recent call last)",
            "Engine core initialization failed",
            "RuntimeError:",
            "Address already in use",
            "out of memory",
            "error: unrecognized arguments",
            "error: argument");

    private FatalLog() {
    }

    static List<String> markers() {
        return MARKERS;
    }
}
