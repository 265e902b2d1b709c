package io.epdctl.proxy;

import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpClientOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * The built-in EPD proxy, running: one HTTP server per event loop on the same port, sharing the
 * backends' health and load. {@link #close()} stops it and frees everything.
 */
public final class EpdProxy implements AutoCloseable {
    private final Vertx vertx;
    private final ProxyState state;
    private final HealthMonitor health;
    private final List<ProxyVerticle> servers;
    private final int port;
    private final ControlServer control;
    private final Path controlFile;

    private EpdProxy(Vertx vertx, ProxyState state, HealthMonitor health, List<ProxyVerticle> servers,
            ControlServer control, Path controlFile) {
        this.vertx = vertx;
        this.state = state;
        this.health = health;
        this.servers = List.copyOf(servers);
        this.port = servers.get(0).actualPort();
        this.control = control;
        this.controlFile = controlFile;
    }

    /** {@link #start(ProxyConfig, Consumer, Duration, Path)} writing no control file. */
    public static EpdProxy start(ProxyConfig config, Consumer<String> log, Duration timeout) {
        return start(config, log, timeout, null);
    }

    /**
     * Probes every backend once, then listens; returns when it listens. Fails (with the reason) when the address cannot be
     * bound. {@code log} receives one line per event worth an operator's attention. The control channel
     * listens too; its port and token go to {@code controlFile} (0600) unless that is null.
     */
    public static EpdProxy start(ProxyConfig config, Consumer<String> log, Duration timeout, Path controlFile) {
        // SO_REUSEPORT: a proxy replacing this one can listen before this one stops (see ReusePortTransport)
        Vertx vertx = Vertx.builder().with(new VertxOptions().setEventLoopPoolSize(Math.max(1, config.tuning().eventLoops())))
                .withTransport(ReusePortTransport.INSTANCE).build();
        try {
            ProxyState state = new ProxyState(config, log);
            HealthMonitor health = new HealthMonitor(vertx,
                    vertx.createHttpClient(new HttpClientOptions().setConnectTimeout(2_000)), state);
            // with port 0, a negative port makes every event loop's server share one port the system picks
            int port = config.listen().port() == 0 ? -1 : config.listen().port();
            List<ProxyVerticle> servers = new CopyOnWriteArrayList<>();
            // the first round of probes, then listening: with SO_REUSEPORT clients may reach this proxy the moment it
            // listens (it may be taking over from a running one), so it must know its healthy backends by then
            Future<String> listening = health.start().compose(probed -> vertx.deployVerticle(() -> {
                ProxyVerticle server = new ProxyVerticle(state, port);
                servers.add(server);
                return server;
            }, new DeploymentOptions().setInstances(Math.max(1, config.tuning().eventLoops()))));
            BackendControl backends = new BackendControl(vertx, state, health,
                    () -> servers.stream().map(ProxyVerticle::eventLoop).toList());
            Future<ControlServer> controlling = ControlServer.start(vertx, backends,
                    request -> servers.get(0).dispatcher().metaserver(request));
            // a proxy that still runs here (this one takes over its port) drains requests whose decoders call this port
            if (controlFile != null) {
                predecessor(controlFile).ifPresent(previous -> {
                    state.predecessor(previous);
                    log.accept("taking over from the proxy with the " + previous + " (" + controlFile + ")");
                });
            }
            Future<EpdProxy> started = Future.all(listening, controlling)
                    .map(all -> new EpdProxy(vertx, state, health, servers, controlling.result(), controlFile));
            EpdProxy proxy = started.toCompletionStage().toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (controlFile != null) {
                try {
                    proxy.control.access().writeTo(controlFile);
                } catch (java.io.UncheckedIOException e) {
                    vertx.close();
                    throw new ProxyStartException(e.getMessage(), e);
                }
            }
            return proxy;
        } catch (ExecutionException e) {
            vertx.close();
            throw new ProxyStartException("cannot listen on " + config.listen() + ": " + e.getCause().getMessage(), e);
        } catch (TimeoutException e) {
            vertx.close();
            throw new ProxyStartException("the proxy did not start within " + timeout.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            vertx.close();
            Thread.currentThread().interrupt();
            throw new ProxyStartException("interrupted while starting", e);
        }
    }

    /** The control file a proxy running before this one wrote there, if it is still there. */
    private static java.util.Optional<ControlFile> predecessor(Path controlFile) {
        try {
            return java.nio.file.Files.exists(controlFile)
                    ? java.util.Optional.of(ControlFile.parse(java.nio.file.Files.readString(controlFile)))
                    : java.util.Optional.empty();
        } catch (java.io.IOException | IllegalArgumentException e) {
            return java.util.Optional.empty(); // not one: it is replaced
        }
    }

    /** The port it listens on (the configured one, or the one the system chose for port 0). */
    public int port() {
        return port;
    }

    /** The control channel's port and token (in this process only; others read them from the control file). */
    public ControlFile control() {
        return control.access();
    }

    /** Where decoders call back for a prefill. */
    public String metaserverUrl() {
        return state.metaserverUrl();
    }

    /** Client requests being served now. */
    public int requestsInFlight() {
        return state.metrics().inFlight();
    }

    /** Disaggregated requests whose decoder has not called the metaserver yet. */
    public int requestsAwaitingPrefill() {
        return state.awaitingPrefill().size();
    }

    /** Requests to backends not ended yet, over every backend. */
    public int backendRequestsInFlight() {
        return state.pools().stream().flatMap(pool -> pool.backends().stream()).mapToInt(Backend::inFlight).sum();
    }

    /** Probes every backend now and waits for the answers (a backend whose probe is under way keeps that one). */
    public void probeNow() {
        try {
            health.probeAll().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("health probes did not finish", e);
        }
    }

    /**
     * Stops gracefully: accepts no new connection (a proxy that took over the port gets them all), lets the
     * requests in flight end, at most --drain-timeout, then closes everything. Returns how many client
     * requests were still in flight when the drain timeout ended the wait.
     */
    public int drainAndClose() {
        if (controlFile != null) {
            control.access().removeFrom(controlFile);
        }
        Duration grace = state.config().tuning().drainTimeout();
        List<Future<Void>> stopped = servers.stream().map(server -> server.stopAccepting(grace)).toList();
        try {
            Future.join(stopped).toCompletionStage().toCompletableFuture()
                    .get(grace.toMillis() + 10_000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // what is left is closed below
        }
        int left = requestsInFlight();
        close();
        return left;
    }

    @Override
    public void close() {
        if (controlFile != null) {
            control.access().removeFrom(controlFile);
        }
        health.stop();
        try {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("the proxy did not stop cleanly", e);
        }
    }

    /** The proxy could not start; the message says why. */
    public static final class ProxyStartException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ProxyStartException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
