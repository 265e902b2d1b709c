package io.epdctl.proxy;

import io.epdctl.topology.ArgValue;
import io.epdctl.topology.ProxyTuning;
import io.epdctl.topology.Role;
import io.epdctl.topology.Topology;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What the built-in proxy needs: where it listens (also the host decoders call back at the
 * metaserver) and its backends per role. Either {@code pd} or both {@code prefill} and
 * {@code decode} are non-empty; encoders are optional, as in the vLLM-Ascend script.
 */
public record ProxyConfig(
        Endpoint listen,
        List<Endpoint> encoders,
        List<Endpoint> pd,
        List<Endpoint> prefill,
        List<Endpoint> decode,
        int maxRetries,
        Duration retryDelay,
        Duration backendTimeout,
        Duration healthInterval,
        int eventLoops) {

    public static final int DEFAULT_MAX_RETRIES = 3;
    public static final Duration DEFAULT_RETRY_DELAY = Duration.ofMillis(1);
    /** As the OpenAI client's own default: a client waits no longer either. */
    public static final Duration DEFAULT_BACKEND_TIMEOUT = Duration.ofMinutes(10);
    public static final Duration DEFAULT_HEALTH_INTERVAL = Duration.ofSeconds(2);

    public ProxyConfig {
        encoders = List.copyOf(encoders);
        pd = List.copyOf(pd);
        prefill = List.copyOf(prefill);
        decode = List.copyOf(decode);
    }

    /** E, then P and D with the KV hand-off (rather than E then PD). */
    public boolean disaggregated() {
        return pd.isEmpty();
    }

    public List<Endpoint> backends(Role role) {
        return switch (role) {
            case ENCODER -> encoders;
            case PD -> pd;
            case PREFILL -> prefill;
            case DECODE -> decode;
        };
    }

    /** What is wrong with this configuration, one message per problem; empty when it can run. */
    public List<String> problems() {
        List<String> problems = new ArrayList<>();
        if (!pd.isEmpty() && (!prefill.isEmpty() || !decode.isEmpty())) {
            problems.add("give either --pd-hosts/--pd-ports or --prefiller-*/--decoder-*, not both");
        } else if (pd.isEmpty() && (prefill.isEmpty() || decode.isEmpty())) {
            problems.add("no PD backends and no prefiller and decoder pair: give --pd-hosts/--pd-ports,"
                    + " or --prefiller-hosts/--prefiller-ports and --decoder-hosts/--decoder-ports");
        }
        if (listen.port() < 0 || listen.port() > 65535) {
            problems.add("--port must be between 0 and 65535, got " + listen.port());
        }
        for (Role role : Role.values()) {
            for (Endpoint backend : backends(role)) {
                if (backend.port() < 1 || backend.port() > 65535) {
                    problems.add(role.yamlName() + " backend " + backend + ": the port must be between 1 and 65535");
                }
            }
        }
        if (maxRetries < 1) {
            problems.add("--max-retries must be at least 1 (attempts per backend call), got " + maxRetries);
        }
        if (retryDelay.isNegative()) {
            problems.add("--retry-delay must not be negative");
        }
        if (backendTimeout.isNegative()) {
            problems.add("--backend-timeout must not be negative (0: no timeout)");
        }
        if (healthInterval.toMillis() < 1) {
            problems.add("--health-interval must be positive");
        }
        return problems;
    }

    /** The proxy a topology describes: the same backends, in file order, as the renderer gives the script. */
    public static ProxyConfig fromTopology(Topology topology) {
        String address = topology.hosts().get(topology.proxy().host()).address();
        Map<String, ArgValue> args = topology.proxy().args();
        return new ProxyConfig(new Endpoint(address, topology.proxy().port()),
                endpoints(topology, Role.ENCODER), endpoints(topology, Role.PD),
                endpoints(topology, Role.PREFILL), endpoints(topology, Role.DECODE),
                ProxyTuning.MAX_RETRIES.in(args).map(Double::intValue).orElse(DEFAULT_MAX_RETRIES),
                ProxyTuning.RETRY_DELAY.in(args).map(ProxyConfig::seconds).orElse(DEFAULT_RETRY_DELAY),
                ProxyTuning.BACKEND_TIMEOUT.in(args).map(ProxyConfig::seconds).orElse(DEFAULT_BACKEND_TIMEOUT),
                ProxyTuning.HEALTH_INTERVAL.in(args).map(ProxyConfig::seconds).orElse(DEFAULT_HEALTH_INTERVAL),
                ProxyTuning.EVENT_LOOPS.in(args).map(Double::intValue).orElse(Runtime.getRuntime().availableProcessors()));
    }

    /** A duration given in (possibly fractional) seconds, as the script's --retry-delay is. */
    public static Duration seconds(double value) {
        return Duration.ofNanos(Math.round(value * 1e9));
    }

    private static List<Endpoint> endpoints(Topology topology, Role role) {
        return topology.nodes(role).stream()
                .map(node -> new Endpoint(topology.hostOf(node).address(), node.port()))
                .toList();
    }
}
