package io.epdctl.proxy;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.PoolOptions;

/** The proxy's HTTP server on one event loop, with its own pooled client to the backends: routes each request. */
final class ProxyVerticle extends VerticleBase {
    private final ProxyState state;
    private final int port;
    private Dispatcher dispatcher;
    private StatusRoutes status;
    private Profiling profiling;
    private int actualPort;
    private io.vertx.core.http.HttpServer server;
    /** Open client connections, each with its requests being answered (HTTP/2: several); on this event loop only. */
    private final java.util.Map<io.vertx.core.http.HttpConnection, Integer> connections = new java.util.HashMap<>();
    private boolean stopping;
    /** Shared by every connection: each reads through a handle of its own. */
    private static final io.netty.channel.AdaptiveRecvByteBufAllocator READS =
            new io.netty.channel.AdaptiveRecvByteBufAllocator(4096, 8192, 65536);

    /** {@code port} negative: one the system picks, shared by every server given the same negative port. */
    ProxyVerticle(ProxyState state, int port) {
        this.state = state;
        this.port = port;
    }

    int actualPort() {
        return actualPort;
    }

    /**
     * Stops accepting connections and lets the open ones finish their requests, closing each once it has
     * none, for at most {@code grace}; then closes what is left.
     */
    Future<Void> stopAccepting(java.time.Duration grace) {
        if (server == null) {
            return Future.succeededFuture();
        }
        io.vertx.core.Promise<Void> stopped = io.vertx.core.Promise.promise();
        context.runOnContext(ignored -> {
            stopping = true;
            server.shutdown(grace).onComplete(stopped);
            // Vert.x leaves a connection with no request in flight open until the grace period ends (in a test,
            // a request that arrived on one then was not read): close those now. Their clients got no byte of
            // an answer, so they may send the request again, to the proxy that took over.
            closeIdle(stopped.future());
        });
        return stopped.future();
    }

    private void closeIdle(Future<Void> stopped) {
        if (stopped.isComplete()) {
            return;
        }
        java.util.List.copyOf(connections.entrySet()).stream().filter(entry -> entry.getValue() <= 0)
                .forEach(entry -> entry.getKey().close());
        vertx.setTimer(50, id -> closeIdle(stopped));
    }

    Dispatcher dispatcher() {
        return dispatcher;
    }

    /** The event loop this server's requests run on. */
    io.vertx.core.Context eventLoop() {
        return context;
    }

    @Override
    public Future<?> start() {
        // idle connections are dropped before uvicorn's 5 s keep-alive timeout drops them under a request
        HttpClient client = vertx.httpClientBuilder()
                .with(new HttpClientOptions().setConnectTimeout(5_000).setKeepAlive(true).setKeepAliveTimeout(3)
                        .setTcpNoDelay(true))
                .with(new PoolOptions().setHttp1MaxSize(4096))
                // each request reports its backend's failures itself
                .withConnectHandler(connection -> {
                    readLargeBuffers(connection);
                    connection.exceptionHandler(ignored -> { });
                })
                .build();
        dispatcher = new Dispatcher(context, state, new BackendCaller(vertx, client, state), client);
        status = new StatusRoutes(state);
        profiling = new Profiling(client, state);
        // no WebSocket is served: without its compression the server has no extension handler, which looked at
        // every request and answer (3% of the proxy's samples)
        return vertx.createHttpServer(new HttpServerOptions().setTcpNoDelay(true)
                        .setPerFrameWebSocketCompressionSupported(false).setPerMessageWebSocketCompressionSupported(false))
                .requestHandler(this::route)
                // a client that resets its connection is a cancelled request, handled there, not news for the log
                .connectionHandler(connection -> {
                    consolidateFlushes(connection);
                    readLargeBuffers(connection);
                    connection.exceptionHandler(ignored -> { });
                    connections.put(connection, 0);
                    connection.closeHandler(closed -> connections.remove(connection));
                })
                .listen(port, state.config().listen().host())
                .onSuccess(listening -> {
                    server = listening;
                    actualPort = listening.actualPort();
                    // before any request can come (every event loop's server has the same port)
                    state.listeningOn(actualPort);
                });
    }

    /**
     * The chunks of a stream that arrive together (one read from the backend, several tokens) go to the client
     * in one write: a flush is put off until the event loop has handled what it read, rather than one system
     * call per chunk, which is most of the proxy's CPU time.
     */
    private static void consolidateFlushes(io.vertx.core.http.HttpConnection connection) {
        if (connection instanceof io.vertx.core.net.impl.ConnectionBase base) {
            base.channel().pipeline().addFirst(new io.netty.handler.flush.FlushConsolidationHandler(
                    io.netty.handler.flush.FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true));
        }
    }

    /**
     * Reads of at least 4 KiB: what a backend sends in one go (a few tokens, a one-token answer, a request)
     * comes in one system call. Netty's default guesses the next read from the last ones, down to 64 bytes,
     * and after a stream's short reads took three or four calls for one arrival.
     */
    private static void readLargeBuffers(io.vertx.core.http.HttpConnection connection) {
        if (connection instanceof io.vertx.core.net.impl.ConnectionBase base) {
            base.channel().config().setRecvByteBufAllocator(READS);
        }
    }

    private void route(HttpServerRequest request) {
        io.vertx.core.http.HttpConnection connection = request.connection();
        connections.merge(connection, 1, Integer::sum);
        // an answer that starts while the proxy drains tells its client not to send another request on this connection,
        // which closes after it: else the client may send one as it closes, and must send it again
        request.response().headersEndHandler(headers -> {
            if (stopping) {
                request.response().putHeader(HttpHeaders.CONNECTION, HttpHeaders.CLOSE);
            }
        });
        request.response().endHandler(ended -> {
            Integer left = connections.computeIfPresent(connection, (open, count) -> count - 1);
            if (stopping && left != null && left <= 0) {
                connection.close(); // its requests are answered: the client goes to the proxy that took over
            }
        });
        String path = request.path();
        HttpMethod method = request.method();
        if (method == HttpMethod.POST && (path.equals("/v1/chat/completions") || path.equals("/v1/completions"))) {
            dispatcher.completions(request);
        } else if (method == HttpMethod.POST && path.equals("/v1/metaserver")) {
            dispatcher.metaserver(request);
        } else if (method == HttpMethod.GET && path.equals("/health")) {
            status.health(request, false);
        } else if (method == HttpMethod.GET && path.equals("/healthcheck")) {
            status.health(request, true);
        } else if (method == HttpMethod.GET && path.equals("/v1/models")) {
            dispatcher.models(request);
        } else if (method == HttpMethod.GET && path.equals("/metrics")) {
            status.metrics(request);
        } else if (method == HttpMethod.POST && (path.equals("/start_profile") || path.equals("/stop_profile"))) {
            profiling.forward(request);
        } else {
            request.response().setStatusCode(404).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(ProxyJson.error(404, "no route " + method + " " + path));
        }
    }
}
