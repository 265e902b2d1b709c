package io.epdctl.proxy;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * E+P+D requests whose decoder has not called the metaserver yet, by the proxy's request id. Shared by
 * every event loop: the decoder's callback may arrive on another one than its request.
 */
final class AwaitingPrefill<T> {
    private final Map<String, T> waiting = new ConcurrentHashMap<>();

    void register(String id, T request) {
        waiting.put(id, request);
    }

    /** The request waiting under {@code id}, which waits no longer; null when none does. */
    T claim(String id) {
        return id == null ? null : waiting.remove(id);
    }

    /** The request ended: it waits no longer (if it still did). */
    void forget(String id, T request) {
        waiting.remove(id, request);
    }

    int size() {
        return waiting.size();
    }
}
