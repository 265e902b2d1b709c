package io.epdctl.render;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.topology.ArgValue;
import io.epdctl.topology.Footprint;
import io.epdctl.topology.Host;
import io.epdctl.topology.KvFlow;
import io.epdctl.topology.KvTransfer;
import io.epdctl.topology.Listener;
import io.epdctl.topology.Node;
import io.epdctl.topology.Placement;
import io.epdctl.topology.ProxyKind;
import io.epdctl.topology.ProxySpec;
import io.epdctl.topology.Role;
import io.epdctl.topology.Topology;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/** Derives each node's {@code vllm serve} command and the proxy's command from a validated topology. */
public final class DeploymentRenderer {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The built-in proxy answers 200 here once every role has a healthy backend. */
    static final String BUILT_IN_READINESS = "/health";

    private final Topology topology;

    public DeploymentRenderer(Topology topology) {
        this.topology = topology;
    }

    public RenderedDeployment render() {
        List<LaunchSpec> nodes = topology.nodes().stream().flatMap(node -> launches(node).stream()).toList();
        return new RenderedDeployment(topology.name(), nodes, proxy(true), topology.proxy().isBuiltIn() ? proxy(false) : null);
    }

    /**
     * Flags every node of a role gets unless the topology overrides them: what the vLLM-Ascend EPD guide
     * uses. An encoder keeps no KV cache (0.01 of the memory), runs eagerly, and takes whole images at once.
     */
    static Map<String, ArgValue> roleDefaults(Role role) {
        Map<String, ArgValue> defaults = new LinkedHashMap<>();
        if (role == Role.ENCODER) {
            defaults.put("gpu-memory-utilization", new ArgValue.Single("0.01"));
            defaults.put("enforce-eager", new ArgValue.Bare());
            defaults.put("enable-request-id-headers", new ArgValue.Bare());
            defaults.put("no-enable-prefix-caching", new ArgValue.Bare());
            defaults.put("max-num-batched-tokens", new ArgValue.Single("114688"));
        } else {
            defaults.put("gpu-memory-utilization", new ArgValue.Single("0.7"));
            defaults.put("enable-request-id-headers", new ArgValue.Bare());
        }
        return defaults;
    }

    /**
     * A node's processes: one, or for a node over several hosts one per host (vLLM's internal data parallelism, as the
     * vLLM-Ascend multi-node tests run it): the first host's serves HTTP and is told the group's address and RPC port,
     * the others run {@code --headless} from their start rank and connect to it there.
     */
    private List<LaunchSpec> launches(Node node) {
        Footprint footprint = topology.footprint(node);
        return footprint.placements().stream().map(placement -> launch(node, footprint, placement)).toList();
    }

    private LaunchSpec launch(Node node, Footprint footprint, Placement placement) {
        Host host = topology.hosts().get(placement.host());
        Map<String, String> env = new LinkedHashMap<>();
        env.put(Node.DEVICES_VARIABLE, placement.npus().stream().map(String::valueOf).collect(Collectors.joining(",")));
        Map<String, String> given = new LinkedHashMap<>(topology.vllm().env());
        given.putAll(node.env());
        NetworkSettings network = NetworkSettings.of(host, given);
        env.putAll(network.env());
        env.putAll(topology.vllm().env());
        env.putAll(node.env());
        List<String> setup = new ArrayList<>(network.interfaceLookup());
        setup.addAll(topology.vllm().setup());

        List<String> argv = new ArrayList<>(List.of(topology.vllm().command(), "serve", topology.model()));
        if (placement.servesHttp()) {
            argv.addAll(List.of("--port", String.valueOf(placement.httpPort())));
        } else {
            argv.add("--headless");
        }
        appendFlag(argv, "served-model-name", topology.servedModelName());
        if (node.tensorParallelSize() != 1) {
            argv.addAll(List.of("--tensor-parallel-size", String.valueOf(node.tensorParallelSize())));
        }
        if (node.dataParallelSize() != 1) {
            argv.addAll(List.of("--data-parallel-size", String.valueOf(node.dataParallelSize())));
        }
        if (node.dataParallelExternal() && node.isGroup()) {
            // One API server per rank (vLLM's external load balancing): rank 0 coordinates, the others join it.
            Placement first = footprint.leader();
            argv.addAll(List.of("--data-parallel-rank", String.valueOf(placement.dpStartRank()),
                    "--data-parallel-address", topology.hosts().get(first.host()).address(),
                    "--data-parallel-rpc-port", String.valueOf(first.listener(Listener.Kind.DP_RPC).orElseThrow().first())));
        } else if (node.spansHosts()) {
            argv.addAll(List.of("--data-parallel-size-local", String.valueOf(placement.dpLocalSize())));
            if (!placement.servesHttp()) {
                argv.addAll(List.of("--data-parallel-start-rank", String.valueOf(placement.dpStartRank())));
            }
            Placement leader = footprint.leader();
            argv.addAll(List.of("--data-parallel-address", topology.hosts().get(leader.host()).address(),
                    "--data-parallel-rpc-port", String.valueOf(leader.listener(Listener.Kind.DP_RPC).orElseThrow().first())));
        }
        Map<String, ArgValue> flags = roleDefaults(node.role());
        override(flags, topology.vllm().args());
        override(flags, node.args());
        appendFlags(argv, flags);
        List<String> directories = new ArrayList<>();
        // without encoders (P+D behind the load-balance proxy) there is no embedding to consume
        if (node.role().ecRole() != null && !topology.nodes(Role.ENCODER).isEmpty()) {
            argv.addAll(List.of("--ec-transfer-config", json(ecTransferConfig(node))));
            if (topology.ecTransfer().sharedStoragePath() != null) {
                directories.add(topology.ecTransfer().sharedStoragePath());
            }
        }
        if (node.role().kvRole() != null) {
            argv.addAll(List.of("--kv-transfer-config", json(kvTransferConfig(node, footprint.leader()))));
        }
        if (node.inContainer()) {
            // The devices as the container numbers them; the topology's setup lines run inside, before vllm.
            env.put(Node.DEVICES_VARIABLE, ContainerRenderer.visibleDevices(placement.npus()));
            ContainerLaunch container = new ContainerRenderer(topology.name(), node.name(), node.container())
                    .launch(placement.npus(), containerMounts(directories), env.keySet(), network.interfaceVariables(),
                            topology.vllm().setup(), argv);
            return new LaunchSpec(node.name(), node.role().yamlName(), host.address(), placement, env,
                    network.interfaceLookup(), directories, argv, network.interfaceAddress(), node.restart(), container);
        }
        return new LaunchSpec(footprint.processName(placement), node.role().yamlName(), host.address(), placement, env, setup,
                directories, argv, network.interfaceAddress(), node.restart(), null, null, node.isGroup() ? node.name() : null);
    }

    /** What a container sees at the same path as the host: the model (read-only, when it is a path), the EC directory. */
    private List<String> containerMounts(List<String> directories) {
        List<String> mounts = new ArrayList<>();
        if (topology.model().startsWith("/")) {
            mounts.add(topology.model() + ":" + topology.model() + ":ro");
        }
        directories.forEach(directory -> mounts.add(directory + ":" + directory));
        return mounts;
    }

    /** Later settings win; turning on {@code x} also drops a {@code no-x} set earlier, and the other way round. */
    static void override(Map<String, ArgValue> flags, Map<String, ArgValue> overrides) {
        overrides.forEach((flag, value) -> {
            if (value instanceof ArgValue.Omitted) {
                flags.remove(flag);
                return;
            }
            flags.remove(flag.startsWith("no-") ? flag.substring(3) : "no-" + flag);
            flags.put(flag, value);
        });
    }

    static void appendFlags(List<String> argv, Map<String, ArgValue> flags) {
        flags.forEach((flag, value) -> {
            if (value instanceof ArgValue.Bare) {
                argv.add("--" + flag);
            } else if (value instanceof ArgValue.Single single) {
                appendFlag(argv, flag, single.value());
            } else if (value instanceof ArgValue.Listed listed && listed.values().size() == 1) {
                appendFlag(argv, flag, listed.values().get(0));
            } else if (value instanceof ArgValue.Listed listed) {
                argv.add("--" + flag); // validation made sure that none of several values begins with '-'
                argv.addAll(listed.values());
            }
        });
    }

    /**
     * {@code --flag value}; as {@code --flag=value} when the value begins with '-', which argparse (and
     * picocli) would otherwise read as the next option rather than as this flag's value.
     */
    static void appendFlag(List<String> argv, String flag, String value) {
        if (value.startsWith("-")) {
            argv.add("--" + flag + "=" + value);
        } else {
            argv.addAll(List.of("--" + flag, value));
        }
    }

    private Map<String, Object> ecTransferConfig(Node node) {
        Map<String, Object> extra = new LinkedHashMap<>();
        if (topology.ecTransfer().sharedStoragePath() != null) {
            extra.put("shared_storage_path", topology.ecTransfer().sharedStoragePath());
        }
        extra.putAll(topology.ecTransfer().extraConfig());
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("ec_connector", topology.ecTransfer().connector());
        config.put("ec_role", node.role().ecRole());
        config.put("ec_connector_extra_config", extra);
        return config;
    }

    private Map<String, Object> kvTransferConfig(Node node, Placement placement) {
        KvTransfer kv = topology.kvTransfer();
        Map<String, Object> extra = new LinkedHashMap<>(kv.extraConfig());
        // Each instance checks its own side against its parallel sizes; validation made each side uniform.
        extra.put("prefill", parallelism(topology.nodes(Role.PREFILL).get(0)));
        extra.put("decode", parallelism(topology.nodes(Role.DECODE).get(0)));
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("kv_connector", kv.connector());
        config.put("kv_role", node.role().kvRole());
        // The binding side (decode for layerwise, prefill for MooncakeConnectorV1) binds from its first KV port;
        // the other side only connects, and is told the deployment's. Over several hosts (or ranks) every process is
        // told the group's first: each rank adds its own (global) rank to it.
        config.put("kv_port", placement.listener(Listener.Kind.KV).map(Listener::first).orElse(kv.kvPort()));
        config.put("engine_id", engineId(node));
        if (kv.modulePath() != null) {
            config.put("kv_connector_module_path", kv.modulePath());
        }
        config.put("kv_connector_extra_config", extra);
        return config;
    }

    private static Map<String, Object> parallelism(Node node) {
        Map<String, Object> block = new LinkedHashMap<>();
        block.put("dp_size", node.dataParallelSize());
        block.put("tp_size", node.tensorParallelSize());
        return block;
    }

    /** Unique per P/D instance: its position among them, as the guide numbers them ("0" for P, "1" for D). */
    private String engineId(Node node) {
        List<Node> kvNodes = topology.nodes().stream().filter(n -> n.role().kvRole() != null).toList();
        return String.valueOf(kvNodes.indexOf(node));
    }

    /** The proxy's launch; {@code withBackends} false leaves out the lists of its backends (see {@link RenderedDeployment}). */
    private LaunchSpec proxy(boolean withBackends) {
        ProxySpec proxy = topology.proxy();
        Host host = topology.hosts().get(proxy.host());
        Placement placement = Footprint.ofProxy(proxy).placement();
        List<String> argv = new ArrayList<>();
        if (proxy.isBuiltIn()) {
            argv.addAll(List.of(proxy.command(), "proxy"));
        } else {
            argv.addAll(List.of(proxy.python(), proxy.script()));
        }
        // --host is where the proxy listens and also the metaserver URL decode nodes call back.
        argv.addAll(List.of("--host", host.address(), "--port", String.valueOf(placement.httpPort())));
        if (withBackends) {
            addBackends(argv, proxy.kind());
        }
        // The built-in proxy's default is the layerwise flow (a script speaks one flow of its own). Part of its
        // identity, unlike its backends: a proxy of the other flow must be replaced.
        if (proxy.isBuiltIn() && topology.isDisaggregated() && topology.kvTransfer().flow() != KvFlow.LAYERWISE) {
            argv.addAll(List.of(KvFlow.OPTION, topology.kvTransfer().flow().flag()));
        }
        appendFlags(argv, proxy.args());
        Map<String, String> env = new LinkedHashMap<>(proxy.env());
        String readiness = proxy.isBuiltIn() ? BUILT_IN_READINESS : proxy.kind().readiness();
        return new LaunchSpec("proxy", "proxy", host.address(), placement, env, proxy.setup(), List.of(), argv,
                Optional.empty(), proxy.restart(), null, readiness, null);
    }

    /** Each upstream proxy is told its backends its own way; the built-in proxy as the layerwise EPD script. */
    private void addBackends(List<String> argv, ProxyKind kind) {
        if (kind == ProxyKind.DISAGG_EPD) {
            // one comma-separated value per list; "disable" runs E then PD, whose nodes are then the decode list
            argv.addAll(List.of("--encode-servers-urls", urls(Role.ENCODER)));
            argv.addAll(List.of("--prefill-servers-urls", topology.isDisaggregated() ? urls(Role.PREFILL) : "disable"));
            argv.addAll(List.of("--decode-servers-urls", urls(topology.isDisaggregated() ? Role.DECODE : Role.PD)));
            return;
        }
        if (kind != ProxyKind.LOAD_BALANCE) {
            addBackends(argv, "encoder", Role.ENCODER);
        }
        if (topology.isDisaggregated()) {
            addBackends(argv, "prefiller", Role.PREFILL);
            addBackends(argv, "decoder", Role.DECODE);
        } else {
            addBackends(argv, "pd", Role.PD);
        }
    }

    private void addBackends(List<String> argv, String prefix, Role role) {
        List<Placement> serving = serving(role);
        argv.add("--" + prefix + "-hosts");
        serving.forEach(placement -> argv.add(topology.hosts().get(placement.host()).address()));
        argv.add("--" + prefix + "-ports");
        serving.forEach(placement -> argv.add(String.valueOf(placement.httpPort())));
    }

    /** {@code http://ADDRESS:PORT,...} of the nodes of a role, in file order; an IPv6 address in brackets. */
    private String urls(Role role) {
        return serving(role).stream()
                .map(placement -> {
                    String address = topology.hosts().get(placement.host()).address();
                    String bracketed = address.contains(":") && !address.startsWith("[") ? "[" + address + "]" : address;
                    return "http://" + bracketed + ":" + placement.httpPort();
                })
                .collect(Collectors.joining(","));
    }

    /** The processes of a role's nodes that serve HTTP, in file order: a node over several hosts has one or one per rank. */
    private List<Placement> serving(Role role) {
        return topology.nodes(role).stream().flatMap(node -> topology.footprint(node).serving().stream()).toList();
    }

    private static String json(Map<String, Object> value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("maps of strings and numbers always convert to JSON", e);
        }
    }
}
