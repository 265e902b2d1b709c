package io.epdctl.cli;

import io.epdctl.proxy.ControlFile;
import io.epdctl.proxy.Endpoint;
import io.epdctl.proxy.ProxyBackends;
import io.epdctl.proxy.EpdProxy;
import io.epdctl.proxy.ProxyConfig;
import io.epdctl.topology.KvFlow;
import io.epdctl.topology.LoadResult;
import io.epdctl.topology.Problem;
import io.epdctl.topology.ProxyTuning;
import io.epdctl.topology.TopologyLoader;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "proxy",
        mixinStandardHelpOptions = true,
        description = {
            "Runs the built-in EPD proxy in the foreground until SIGTERM or SIGINT.",
            "Configured from a topology file (-f) or with the arguments of the vLLM-Ascend example proxy script,"
                    + " which it replaces one for one. Serves /v1/chat/completions, /v1/completions, /v1/metaserver,"
                    + " /v1/models, /health, /healthcheck and /metrics."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"1:could not listen", "2:invalid arguments or topology file", "130:stopped by SIGINT (Ctrl-C)",
            "143:stopped by SIGTERM"},
        // --max-retries, --retry-delay, --backend-timeout, --health-interval, --event-loops, --drain-timeout
        modelTransformer = ProxyTuningOptions.class)
public final class ProxyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-f", "--file"}, paramLabel = "FILE",
            description = "Take the proxy's address and backends from this topology file.")
    Path topologyFile;

    @Option(names = "--host", paramLabel = "HOST",
            description = "Address to listen on; also the host of the metaserver URL decoders call back (default: localhost).")
    String host;

    @Option(names = "--port", paramLabel = "PORT", description = "Port to listen on (default: 8000).")
    Integer port;

    @Option(names = "--encoder-hosts", arity = "1..*", paramLabel = "HOST",
            description = "Addresses of the encoders (optional; requests with images or video go to one first), one per node.")
    List<String> encoderHosts = new ArrayList<>();
    @Option(names = "--encoder-ports", arity = "1..*", paramLabel = "PORT",
            description = "HTTP ports of the same nodes, in the same order.")
    List<Integer> encoderPorts = new ArrayList<>();
    @Option(names = "--pd-hosts", arity = "1..*", paramLabel = "HOST",
            description = "Addresses of the prefill-decode (PD) nodes, one per node.")
    List<String> pdHosts = new ArrayList<>();
    @Option(names = "--pd-ports", arity = "1..*", paramLabel = "PORT",
            description = "HTTP ports of the same nodes, in the same order.")
    List<Integer> pdPorts = new ArrayList<>();
    @Option(names = "--prefiller-hosts", arity = "1..*", paramLabel = "HOST",
            description = "Addresses of the prefill nodes (with --decoder-*; --kv-flow says which of the two is asked"
                    + " first), one per node.")
    List<String> prefillerHosts = new ArrayList<>();
    @Option(names = "--prefiller-ports", arity = "1..*", paramLabel = "PORT",
            description = "HTTP ports of the same nodes, in the same order.")
    List<Integer> prefillerPorts = new ArrayList<>();
    @Option(names = "--decoder-hosts", arity = "1..*", paramLabel = "HOST",
            description = "Addresses of the decode nodes (with --prefiller-*), one per node.")
    List<String> decoderHosts = new ArrayList<>();
    @Option(names = "--decoder-ports", arity = "1..*", paramLabel = "PORT",
            description = "HTTP ports of the same nodes, in the same order.")
    List<Integer> decoderPorts = new ArrayList<>();

    @Option(names = KvFlow.OPTION, paramLabel = "FLOW", converter = KvFlowConverter.class,
            description = "How the KV cache goes from prefiller to decoder: layerwise (MooncakeLayerwiseConnector: the"
                    + " decoder first, it calls the metaserver back; the default) or pull (MooncakeConnectorV1: the"
                    + " prefiller first, its kv_transfer_params then go to the decoder).")
    KvFlow kvFlow;

    @Option(names = "--control-file", paramLabel = "FILE", defaultValue = ControlFile.NAME,
            description = "Where to write the control channel's port and token, readable by the owner only"
                    + " (default: ${DEFAULT-VALUE} in the working directory; removed on exit).")
    Path controlFile;

    @Override
    public Integer call() throws InterruptedException {
        ProxyConfig config = config();
        PrintWriter err = spec.commandLine().getErr();
        EpdProxy proxy = EpdProxy.start(config, line -> log(err, line), Duration.ofSeconds(60), controlFile);
        CountDownLatch stopped = new CountDownLatch(1);
        Thread shutdown = new Thread(() -> {
            log(err, "stopping");
            int left = proxy.drainAndClose();
            if (left > 0) {
                log(err, left + " requests were still in flight after --drain-timeout; they were cut");
            }
            log(err, "stopped");
            stopped.countDown();
        }, "epdctl-proxy-shutdown");
        Runtime.getRuntime().addShutdownHook(shutdown);
        log(err, proxy.control() + " (its port and token in " + controlFile.toAbsolutePath() + ")");
        log(err, "ready on http://" + new Endpoint(config.listen().host(), proxy.port()).authority() + " ("
                + describe(config) + "; metaserver " + proxy.metaserverUrl() + ")");
        stopped.await();
        return ExitCodes.OK;
    }

    /** The configuration the options describe; a {@link UserException} (exit 2) saying what is wrong otherwise. */
    ProxyConfig config() {
        ProxyConfig config = topologyFile != null ? fromTopology() : fromOptions();
        List<String> problems = config.problems();
        if (!problems.isEmpty()) {
            throw new UserException(ExitCodes.INVALID_INPUT, "proxy: " + String.join("; ", problems));
        }
        return config;
    }

    private ProxyConfig fromTopology() {
        boolean backendOptions = !(encoderHosts.isEmpty() && encoderPorts.isEmpty() && pdHosts.isEmpty()
                && pdPorts.isEmpty() && prefillerHosts.isEmpty() && prefillerPorts.isEmpty()
                && decoderHosts.isEmpty() && decoderPorts.isEmpty());
        if (backendOptions || host != null || port != null || kvFlow != null) {
            throw new UserException(ExitCodes.INVALID_INPUT, "proxy: -f takes the address, the backends and the KV"
                    + " flow from the topology; drop --host, --port, --*-hosts/--*-ports and --kv-flow");
        }
        LoadResult result = TopologyLoader.load(topologyFile);
        PrintWriter err = spec.commandLine().getErr();
        for (Problem problem : result.problems()) {
            err.println(problem.format(topologyFile.toString()));
        }
        if (result.hasErrors()) {
            throw new UserException(ExitCodes.INVALID_INPUT, topologyFile + ": the topology has errors; the proxy was not started");
        }
        return ProxyConfig.fromTopology(result.topologyOrNull(), ProxyTuningOptions.given(spec));
    }

    private ProxyConfig fromOptions() {
        return new ProxyConfig(new Endpoint(host != null ? host : "localhost", port != null ? port : 8000),
                new ProxyBackends(endpoints("encoder", encoderHosts, encoderPorts), endpoints("pd", pdHosts, pdPorts),
                        endpoints("prefiller", prefillerHosts, prefillerPorts),
                        endpoints("decoder", decoderHosts, decoderPorts)),
                ProxyTuning.of(ProxyTuningOptions.given(spec)), kvFlow != null ? kvFlow : KvFlow.LAYERWISE);
    }

    /** {@code layerwise} or {@code pull}; anything else is an invalid argument naming both. */
    static final class KvFlowConverter implements picocli.CommandLine.ITypeConverter<KvFlow> {
        @Override
        public KvFlow convert(String value) {
            return KvFlow.ofFlag(value).orElseThrow(() -> new picocli.CommandLine.TypeConversionException(
                    "expected one of " + String.join(", ", KvFlow.flags()) + " but was '" + value + "'"));
        }
    }

    private static List<Endpoint> endpoints(String role, List<String> hosts, List<Integer> ports) {
        if (hosts.size() != ports.size()) {
            throw new UserException(ExitCodes.INVALID_INPUT, "proxy: " + hosts.size() + " --" + role + "-hosts but "
                    + ports.size() + " --" + role + "-ports; give one port per host");
        }
        List<Endpoint> endpoints = new ArrayList<>();
        for (int i = 0; i < hosts.size(); i++) {
            endpoints.add(new Endpoint(hosts.get(i), ports.get(i)));
        }
        return endpoints;
    }

    private static String describe(ProxyConfig config) {
        ProxyBackends backends = config.backends();
        return backends.encoders().size() + " encoder, " + (backends.disaggregated()
                ? backends.prefill().size() + " prefill, " + backends.decode().size() + " decode"
                : backends.pd().size() + " pd") + " backends" + (backends.disaggregated()
                ? ", KV flow " + config.kvFlow().flag() : "");
    }

    private static void log(PrintWriter err, String line) {
        synchronized (err) {
            err.println("epdctl proxy: " + line);
        }
    }
}
