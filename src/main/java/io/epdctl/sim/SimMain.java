package io.epdctl.sim;

import io.epdctl.sim.transfer.KvConfig;
import io.epdctl.sim.transfer.KvHandshake;
import io.epdctl.sim.transfer.KvReceiver;
import java.io.IOException;
import java.io.PrintStream;
import java.net.BindException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * {@code vllm-sim serve MODEL [flags]}: a stand-in for {@code vllm serve} that starts like it, answers its
 * HTTP API with deterministic text, and performs the EC and KV hand-offs of the EPD connectors for real.
 */
public final class SimMain {
    static final String EC_CONNECTOR = "ECExampleConnector";
    /** The KV connectors simulated: layerwise push, and pull (MooncakeConnectorV1). */
    static final List<String> KV_CONNECTORS = List.of(KvConfig.LAYERWISE_CONNECTOR, KvConfig.PULL_CONNECTOR);
    /** vLLM's VLLM_MOONCAKE_ABORT_REQUEST_TIMEOUT default: a prefiller frees KV nobody pulled after 480 s. */
    static final long DEFAULT_ABORT_TIMEOUT_SECONDS = 480;
    private static final String USAGE = "usage: vllm serve [model_tag] [options]";
    /**
     * Accept backlog of every listener (HTTP and KV): room for thousands of connections arriving at once, as
     * behind a proxy under load (the kernel caps it at net.core.somaxconn). Java's default of 50 overflowed at
     * 64 concurrent requests, and each overflow costs the client a SYN retransmission (1 s).
     */
    static final int LISTEN_BACKLOG = 4096;

    private final Map<String, String> env;
    private final SimLog log;
    private final PrintStream err;

    private SimMain(Map<String, String> env, PrintStream out, PrintStream err) {
        this.env = env;
        this.err = err;
        this.log = new SimLog(out, err);
    }

    public static void main(String[] argv) {
        // The JDK HTTP server, unlike uvicorn, closes idle keep-alive connections beyond 200 (a proxy's pool
        // then finds them closed under its next request) and leaves Nagle on (small writes wait up to 40 ms
        // for a delayed ACK). Read once, when the server's class loads; VLLM_SIM_JAVA_OPTS can still set them.
        setDefault("sun.net.httpserver.maxIdleConnections", "4096");
        setDefault("sun.net.httpserver.nodelay", "true");
        int exitCode = new SimMain(System.getenv(), System.out, System.err).run(Arrays.asList(argv));
        if (exitCode != 0) {
            System.exit(exitCode);
        }
        // 0: the HTTP server's thread keeps the process alive until SIGTERM
    }

    private int run(List<String> argv) {
        if (argv.isEmpty() || !argv.get(0).equals("serve")) {
            err.println(USAGE);
            err.println("vllm-sim: error: the only command is: serve MODEL [flags]");
            return 2;
        }
        ServeArgs args;
        Faults faults;
        ProxySelector callbackProxy;
        try {
            args = ServeArgsParser.parse(argv.subList(1, argv.size()));
            faults = Faults.fromEnvironment(env);
            callbackProxy = EnvironmentProxy.from(env);
        } catch (ArgumentError e) {
            err.println(USAGE);
            err.println("vllm serve: error: " + e.getMessage());
            return 2;
        } catch (StartupFailure e) {
            log.traceback("arg_utils.py", "Invalid engine configuration.", e.exceptionLine());
            return 1;
        } catch (IllegalArgumentException e) {
            err.println("vllm-sim: error: " + e.getMessage());
            return 2;
        }
        if (faults.ignoreSigterm()) {
            Signal.handle(new Signal("TERM"), SignalHandler.SIG_IGN);
        }
        log.info("api_server.py", "vLLM API server version 0.13.0+sim (vllm-sim)");
        log.info("api_server.py", "args: " + args);
        try {
            return serve(args, faults, callbackProxy);
        } catch (IOException e) {
            log.traceback("core.py", "EngineCore failed to start.", "OSError: " + e.getMessage());
            return 1;
        }
    }

    private int serve(ServeArgs args, Faults faults, ProxySelector callbackProxy) throws IOException {
        EngineChild engine = EngineChild.start();
        log.info("core.py", "EngineCore started (pid=" + engine.pid() + ")");
        Optional<KvReceiver> kvReceiver = Optional.empty();
        Optional<KvHandshake> kvHandshake = Optional.empty();
        try {
            log.info("default_loader.py", "Loading weights took (simulated) ...");
            sleep(faults.startupDelayMillis()); // "loading the model": the port refuses connections meanwhile
            log.info("gpu_model_runner.py", "Model loading took " + faults.startupDelayMillis() + " ms (simulated)");
            if (faults.crashOnStartup()) {
                throw new StartupFailure("RuntimeError: NPU out of memory while loading the model "
                        + "(simulated by VLLM_SIM_CRASH_ON_STARTUP)");
            }
            checkEngine(args);
            String advertisedHost = advertisedHost();
            kvReceiver = bindKvPorts(args, advertisedHost);
            kvHandshake = bindHandshakePorts(args, advertisedHost);
            if (args.headless()) {
                // No API server: the engines join the head node and run until the group ends (see DataParallelLink).
                Optional<KvReceiver> receiver = kvReceiver;
                Optional<KvHandshake> handshake = kvHandshake;
                Runnable release = () -> {
                    receiver.ifPresent(KvReceiver::close);
                    handshake.ifPresent(KvHandshake::close);
                    engine.stop();
                };
                Runtime.getRuntime().addShutdownHook(new Thread(release));
                int status = DataParallelLink.runHeadless(args, log);
                release.run();
                return status;
            }
            if (args.leadsOtherHosts()) {
                DataParallelLink.Leader group = DataParallelLink.awaitRanks(args, log, engineReadyTimeoutMillis());
                group.watch(why -> groupLost(engine, why));
            }
            if (args.joinsRankZero()) {
                // External data parallelism: this rank's engine joins rank 0's coordinator before its API server starts.
                DataParallelLink.Joined joined = joinRankZero(args);
                Thread watch = new Thread(() -> {
                    joined.awaitEnd();
                    groupLost(engine, joined.describe());
                }, "dp-rank0-watch");
                watch.setDaemon(true);
                watch.start();
            }
            SimServer server = new SimServer(args, faults, log, kvReceiver, kvHandshake, advertisedHost, callbackProxy,
                    () -> crash(engine));
            InetSocketAddress address = args.host().filter(h -> !h.isEmpty())
                    .map(h -> new InetSocketAddress(h, args.port())).orElse(new InetSocketAddress(args.port()));
            try {
                server.start(address, LISTEN_BACKLOG);
            } catch (BindException e) {
                throw new StartupFailure("OSError: [Errno 98] Address already in use: " + address);
            }
            Optional<KvReceiver> receiver = kvReceiver;
            Optional<KvHandshake> handshake = kvHandshake;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> shutDown(server, receiver, handshake, engine)));
            log.info("api_server.py", "Starting vLLM API server 0 on http://"
                    + args.host().orElse("0.0.0.0") + ":" + server.port());
            log.info("launcher.py", "Available routes are: /health, /v1/models, /version, /metrics, "
                    + "/v1/chat/completions, /v1/completions");
            log.info("on.py", "Waiting for application startup.");
            log.info("on.py", "Application startup complete.");
            return 0;
        } catch (StartupFailure e) {
            // as in vLLM, the engine core is gone by the time the API server reports it, and then exits
            kvReceiver.ifPresent(KvReceiver::close);
            kvHandshake.ifPresent(KvHandshake::close);
            engine.stop();
            log.traceback("core.py", "EngineCore failed to start.", e.exceptionLine()
                    + "\nRuntimeError: Engine core initialization failed. See root cause above. "
                    + "Failed core proc(s): {}");
            return 1;
        }
    }

    /** What vLLM and vLLM-Ascend check while building the engine, before the port opens. */
    private void checkEngine(ServeArgs args) throws StartupFailure {
        String devices = env.get("ASCEND_RT_VISIBLE_DEVICES");
        if (devices != null) {
            if (!devices.strip().matches("\\d+(\\s*,\\s*\\d+)*")) {
                throw new StartupFailure("RuntimeError: ASCEND_RT_VISIBLE_DEVICES='" + devices
                        + "' is not a comma-separated list of NPU ids (drvRetCode=7)");
            }
            int visible = devices.split(",").length;
            int needed = args.tensorParallelSize() * args.dataParallelSizeLocal();
            if (visible < needed) {
                throw new StartupFailure("RuntimeError: tensor_parallel_size * data_parallel_size_local = " + needed
                        + " NPUs needed but ASCEND_RT_VISIBLE_DEVICES='" + devices + "' makes " + visible + " visible");
            }
            log.info("platform.py", "Using NPUs " + devices.strip() + " (ASCEND_RT_VISIBLE_DEVICES)");
        } else {
            log.warning("platform.py", "ASCEND_RT_VISIBLE_DEVICES is not set: every NPU of the host is visible");
        }
        if (args.ecTransfer().isPresent() && !args.ecTransfer().get().connector().equals(EC_CONNECTOR)) {
            throw new StartupFailure("ValueError: Unsupported connector type: " + args.ecTransfer().get().connector());
        }
        if (args.kvTransfer().isPresent()) {
            checkKv(args, args.kvTransfer().get());
        }
    }

    private static void checkKv(ServeArgs args, KvConfig kv) throws StartupFailure {
        if (!KV_CONNECTORS.contains(kv.connector())) {
            throw new StartupFailure("ValueError: Unsupported connector type: " + kv.connector()
                    + " (vllm-sim simulates " + String.join(" and ", KV_CONNECTORS) + ")");
        }
        if (kv.pull()) {
            checkPullKv(args, kv);
            return;
        }
        String side = kv.producer() ? "prefill" : "decode";
        Optional<KvConfig.Parallelism> own = kv.producer() ? kv.prefill() : kv.decode();
        if (own.isPresent() && (own.get().tpSize() != args.tensorParallelSize()
                || own.get().dpSize() != args.dataParallelSize())) {
            throw new StartupFailure("AssertionError: kv_connector_extra_config." + side + " says dp_size="
                    + own.get().dpSize() + ", tp_size=" + own.get().tpSize() + " but this instance runs "
                    + "--data-parallel-size " + args.dataParallelSize() + " --tensor-parallel-size "
                    + args.tensorParallelSize());
        }
        if (kv.prefill().isPresent() && kv.decode().isPresent()
                && kv.prefill().get().tpSize() % kv.decode().get().tpSize() != 0) {
            throw new StartupFailure("AssertionError: prefill tp_size " + kv.prefill().get().tpSize()
                    + " must be a multiple of decode tp_size " + kv.decode().get().tpSize());
        }
        int highest = kv.kvPort() + args.dataParallelSize() * args.tensorParallelSize() - 1;
        if (kv.kvPort() < 1 || highest > 65535) {
            throw new StartupFailure("zmq.error.ZMQError: Invalid argument (kv ports " + kv.kvPort() + "-" + highest + ")");
        }
    }

    /**
     * MooncakeConnectorV1's worker, on either side: both parallel blocks must be given (asserted), the prefill tp
     * must not be below the decode tp (ValueError); its handshake ports must be real ports. It does not compare
     * the blocks with its own parallel sizes, as the layerwise connector does.
     */
    private static void checkPullKv(ServeArgs args, KvConfig kv) throws StartupFailure {
        for (String side : List.of("prefill", "decode")) {
            if ((side.equals("prefill") ? kv.prefill() : kv.decode()).isEmpty()) {
                throw new StartupFailure("AssertionError: kv_connector_extra_config." + side
                        + " needs \"tp_size\" and \"dp_size\" (MooncakeConnectorWorker._get_prefill_decode_size)");
            }
        }
        int prefillTp = kv.prefill().get().tpSize();
        int decodeTp = kv.decode().get().tpSize();
        if (prefillTp < decodeTp) {
            throw new StartupFailure("ValueError: prefill_tp_size: " + prefillTp
                    + " must be greater than or equal to the decode_tp_size: " + decodeTp);
        }
        int highest = kv.kvPort() + args.dataParallelSize() * args.tensorParallelSize() - 1;
        if (kv.producer() && (kv.kvPort() < 1 || highest > 65535)) {
            throw new StartupFailure("zmq.error.ZMQError: Invalid argument (handshake ports " + kv.kvPort() + "-"
                    + highest + ")");
        }
    }

    /**
     * MooncakeConnectorV1: only the prefill side binds, a handshake socket per dp*tp rank
     * ({@code kv_port + dp_rank * tp + tp_rank}) on the address it advertises; its decoders connect to it.
     */
    private Optional<KvHandshake> bindHandshakePorts(ServeArgs args, String advertisedHost) throws StartupFailure {
        if (args.kvTransfer().isEmpty() || !args.kvTransfer().get().pull() || !args.kvTransfer().get().producer()) {
            return Optional.empty();
        }
        KvConfig kv = args.kvTransfer().get();
        long abortSeconds = abortTimeoutSeconds();
        try {
            // The ranks this process runs (all, but for a process of a data-parallel group over hosts or ranks).
            return Optional.of(new KvHandshake(InetAddress.getByName(advertisedHost), args.firstKvPort(),
                    args.tensorParallelSize(), args.dataParallelSizeLocal(), LISTEN_BACKLOG, kv.engineId(),
                    abortSeconds * 1000, System::currentTimeMillis));
        } catch (IOException e) {
            throw new StartupFailure(zmqBindError(e, advertisedHost, args.firstKvPort()));
        }
    }

    /** VLLM_MOONCAKE_ABORT_REQUEST_TIMEOUT, in seconds, as vLLM reads it. */
    private long abortTimeoutSeconds() throws StartupFailure {
        String value = env.get("VLLM_MOONCAKE_ABORT_REQUEST_TIMEOUT");
        if (value == null || value.isBlank()) {
            return DEFAULT_ABORT_TIMEOUT_SECONDS;
        }
        try {
            return Long.parseLong(value.strip());
        } catch (NumberFormatException e) {
            throw new StartupFailure("ValueError: invalid literal for int() with base 10: '" + value + "'");
        }
    }

    /** The layerwise connector: only the decode side binds, one port per dp*tp rank it runs, on the address it advertises. */
    private static Optional<KvReceiver> bindKvPorts(ServeArgs args, String advertisedHost) throws StartupFailure {
        if (args.kvTransfer().isEmpty() || args.kvTransfer().get().pull() || !args.kvTransfer().get().consumer()) {
            return Optional.empty();
        }
        // Each process binds the ports of the ranks it runs: kv_port + dp_rank * tp + tp_rank.
        int base = args.kvTransfer().get().kvPort() + args.dataParallelStartRank() * args.tensorParallelSize();
        try {
            return Optional.of(new KvReceiver(InetAddress.getByName(advertisedHost), base,
                    args.dataParallelSizeLocal() * args.tensorParallelSize(), LISTEN_BACKLOG));
        } catch (IOException e) {
            throw new StartupFailure(zmqBindError(e, advertisedHost, base));
        }
    }

    /**
     * ZMQ's words for a failed bind: a port in use, or an address that is not this host's (VLLM_HOST_IP set to
     * another host's address), as {@code Cannot assign requested address}.
     */
    private static String zmqBindError(IOException e, String host, int port) {
        String message = String.valueOf(e.getMessage());
        String reason = message.contains("in use") ? "Address already in use"
                : message.contains("assign requested address") ? "Cannot assign requested address" : message;
        return "zmq.error.ZMQError: " + reason + " (addr='tcp://" + host + ":" + port + "'): " + message;
    }

    /**
     * As vLLM's get_ip(): VLLM_HOST_IP, else the address of the interface that routes outwards (no packet is
     * sent), else 0.0.0.0.
     */
    private String advertisedHost() {
        String configured = env.get("VLLM_HOST_IP");
        if (configured != null && !configured.isBlank()) {
            return configured.strip();
        }
        try (DatagramSocket probe = new DatagramSocket()) {
            probe.connect(InetAddress.getByName("8.8.8.8"), 80);
            InetAddress local = probe.getLocalAddress();
            if (local != null && !local.isAnyLocalAddress()) {
                return local.getHostAddress();
            }
        } catch (IOException e) {
            // no route out: fall through as vLLM does
        }
        log.warning("utils.py", "Failed to get the IP address, using 0.0.0.0 by default. "
                + "The value can be set by the environment variable VLLM_HOST_IP or HOST_IP.");
        return "0.0.0.0";
    }

    private void shutDown(SimServer server, Optional<KvReceiver> kvReceiver, Optional<KvHandshake> kvHandshake,
            EngineChild engine) {
        log.info("launcher.py", "Shutting down FastAPI HTTP server.");
        server.stop();
        kvReceiver.ifPresent(KvReceiver::close);
        kvHandshake.ifPresent(KvHandshake::close);
        engine.stop();
        log.info("on.py", "Application shutdown complete.");
    }

    /** VLLM_SIM_CRASH_AFTER_REQUESTS: the engine dies; the server reports it and exits non-zero at once. */
    private void crash(EngineChild engine) {
        log.traceback("core.py", "EngineCore encountered a fatal error.",
                "RuntimeError: simulated engine failure (VLLM_SIM_CRASH_AFTER_REQUESTS)");
        log.error("async_llm.py", "AsyncLLM output_handler failed. EngineDeadError: EngineCore encountered an issue.");
        engine.stop();
        Runtime.getRuntime().halt(1);
    }

    /** VLLM_ENGINE_READY_TIMEOUT_S, as vLLM reads it (600 s by default): how long the API server waits for its engines. */
    private long engineReadyTimeoutMillis() {
        String value = env.getOrDefault("VLLM_ENGINE_READY_TIMEOUT_S", "600");
        try {
            return Math.max(1, Long.parseLong(value.strip())) * 1000;
        } catch (NumberFormatException e) {
            return 600_000;
        }
    }

    private DataParallelLink.Joined joinRankZero(ServeArgs args) throws StartupFailure {
        try {
            DataParallelLink.Joined joined = DataParallelLink.join(args, log);
            if (joined == null) {
                throw new StartupFailure("RuntimeError: data parallel rank " + args.dataParallelStartRank() + " was refused by rank 0");
            }
            return joined;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StartupFailure("RuntimeError: interrupted while joining rank 0");
        }
    }

    /** A rank of the group on another host is gone: its engines' collectives fail here too, and vLLM's API server exits. */
    private void groupLost(EngineChild engine, String why) {
        log.traceback("core.py", "EngineCore encountered a fatal error.", "RuntimeError: data parallel group broken: " + why);
        log.error("async_llm.py", "AsyncLLM output_handler failed. EngineDeadError: EngineCore encountered an issue.");
        engine.stop();
        Runtime.getRuntime().halt(1);
    }

    private static void setDefault(String property, String value) {
        if (System.getProperty(property) == null) {
            System.setProperty(property, value);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

}
