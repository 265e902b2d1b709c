package io.epdctl.proxy;

import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Streams a backend's answer to the client chunk by chunk, status and body as they come, with back-pressure. */
final class Relay {
    /** Headers that describe one hop's connection, not the message, so they are not relayed. */
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "transfer-encoding", "te",
            "trailer", "upgrade", "proxy-authenticate", "proxy-authorization", "x-request-id");

    private Relay() {
    }

    /** Relays the answer of {@code call} (begun, its body paused) as the answer to {@code exchange}, and ends both. */
    static void answer(ProxyExchange exchange, BackendCall call) {
        HttpClientResponse in = call.response();
        HttpServerResponse out = exchange.response();
        if (exchange.done()) {
            call.cancel();
            return;
        }
        boolean errorStatus = in.statusCode() >= 400;
        out.setStatusCode(in.statusCode());
        copyHeaders(in.headers(), out.headers());
        if (!out.headers().contains(HttpHeaders.CONTENT_LENGTH)) {
            out.setChunked(true);
        }
        ChunkBatch batch = new ChunkBatch(exchange, call, in);
        in.handler(chunk -> {
            if (!exchange.done()) {
                call.chunk();
                batch.add(chunk);
            }
        });
        // the backend's call ends once the client's answer is written out (flushes are consolidated): a drain
        // waiting for this backend's calls then knows the client has all of it
        in.endHandler(ended -> {
            batch.write();
            exchange.succeeded().onComplete(written -> call.finish(errorStatus));
        });
        in.exceptionHandler(failure -> {
            batch.write();
            call.finish(true);
            exchange.fail(ProxyFailure.of(502, call.backend() + " broke off its answer: " + failure.getMessage()));
        });
        call.reportSilenceTo(exchange::fail);
        in.resume();
    }

    /**
     * The chunks of one read from the backend (several tokens of a stream, each its own HTTP chunk) go to the
     * client as one chunk, written once the event loop has handled the read: one pass through the HTTP encoder
     * and Vert.x's write path per read instead of one per token. The answer's bytes, and so its server-sent
     * events, are unchanged; only where its chunks begin differs. Nothing waits for more than the read.
     */
    private static final class ChunkBatch {
        private final ProxyExchange exchange;
        private final BackendCall call;
        private final HttpClientResponse in;
        private Buffer pending;

        ChunkBatch(ProxyExchange exchange, BackendCall call, HttpClientResponse in) {
            this.exchange = exchange;
            this.call = call;
            this.in = in;
        }

        void add(Buffer chunk) {
            if (pending == null) {
                // room for the few more a read usually holds, so that appending seldom grows it
                pending = Buffer.buffer(Math.max(chunk.length() * 4, 1024)).appendBuffer(chunk);
                // runs after the rest of this read: tasks wait until the event loop has handled its I/O
                exchange.context().runOnContext(ignored -> write());
            } else {
                pending.appendBuffer(chunk);
            }
        }

        /** Writes what has gathered, if anything, pausing the backend while the client is slow. */
        void write() {
            if (pending == null) {
                return;
            }
            Buffer batch = pending;
            pending = null;
            if (exchange.done()) {
                return;
            }
            HttpServerResponse out = exchange.response();
            out.write(batch);
            if (out.writeQueueFull()) {
                // a slow client, not a silent backend: no silence is counted until it has caught up
                call.hold();
                in.pause();
                out.drainHandler(drained -> {
                    call.resume();
                    in.resume();
                });
            }
        }
    }

    private static void copyHeaders(MultiMap from, MultiMap to) {
        for (Map.Entry<String, String> header : from) {
            if (!HOP_BY_HOP.contains(header.getKey().toLowerCase(Locale.ROOT))) {
                to.add(header.getKey(), header.getValue());
            }
        }
    }
}
