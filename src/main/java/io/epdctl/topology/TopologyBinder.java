package io.epdctl.topology;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Turns the YAML tree into the model, reporting every structural problem (unknown keys, types, missing
 * fields). Parts with a problem come back null so that the cross-checks of {@link TopologyValidator} can
 * still run on the rest; such a draft never leaves the package.
 */
final class TopologyBinder {
    static final List<String> TOP_KEYS = List.of(
            "name", "model", "served-model-name", "hosts", "vllm", "ec-transfer", "kv-transfer", "nodes", "proxy");
    static final List<String> HOST_KEYS = List.of(
            "address", "transport", "user", "ssh-port", "identity-file", "npus", "runtime", "image", "docker");
    static final List<String> VLLM_KEYS = List.of("command", "env", "setup", "args", "restart", "runtime", "image", "docker");
    static final List<String> DOCKER_KEYS = List.of("command", "args");
    static final List<String> EC_KEYS = List.of("connector", "shared-storage-path", "extra-config");
    static final List<String> KV_KEYS = List.of("connector", "kv-port", "module-path", "extra-config");
    static final List<String> NODE_KEYS = List.of(
            "name", "role", "host", "devices", "hosts", "port", "tensor-parallel-size", "data-parallel-size",
            "data-parallel-rpc-port", "data-parallel-mode", "kv-port", "env", "args", "restart", "runtime", "image", "docker");
    static final List<String> RANK_HOST_KEYS = List.of("host", "devices");
    static final List<String> PROXY_KEYS = List.of(
            "host", "port", "script", "kind", "python", "command", "env", "setup", "args", "restart");

    static final int MAX_PORT = 65535;
    static final int MAX_DEVICE = 1023;

    /**
     * {@code docker run} flags epdctl sets itself, or that would break what it relies on: the container's name and
     * labels find it again, the host network is what the other nodes and the proxy reach, epdctl's script waits
     * for the container in the foreground and removes it, and the environment goes through {@code env} (whose
     * secrets never reach a command line).
     */
    static final Map<String, String> RESERVED_DOCKER_FLAGS = Map.ofEntries(
            Map.entry("--name", "epdctl names the container after the deployment and the node"),
            Map.entry("--net", "nodes run on the host's network (--net=host), where the proxy and the other nodes reach them"),
            Map.entry("--network", "nodes run on the host's network (--net=host), where the proxy and the other nodes reach them"),
            Map.entry("-d", "epdctl starts the container detached and waits for it itself"),
            Map.entry("--detach", "epdctl starts the container detached and waits for it itself"),
            Map.entry("--rm", "epdctl removes the container itself, after it has read how it ended"),
            Map.entry("--restart", "a container the daemon restarts could outlive down; epdctl restarts nodes itself"),
            Map.entry("-e", "give variables in env: epdctl passes them by name, so no value is on a command line"),
            Map.entry("--env", "give variables in env: epdctl passes them by name, so no value is on a command line"),
            Map.entry("--env-file", "give variables in env: epdctl passes them by name, so no value is on a command line"));

    private final Problems problems;
    private RuntimeSettings vllmRuntime = RuntimeSettings.NONE;
    private final Map<String, RuntimeSettings> hostRuntimes = new LinkedHashMap<>();

    TopologyBinder(Problems problems) {
        this.problems = problems;
    }

    /** A draft: top-level fields that had problems are null; see the class comment. */
    Topology bind(YamlNode root) {
        MappingReader top = new MappingReader(root, TOP_KEYS, problems);
        String name = top.requiredString("name");
        String model = top.requiredString("model");
        String served = top.requiredString("served-model-name");
        Map<String, Host> hosts = hosts(top.required("hosts"));
        VllmSettings vllm = vllm(top.section("vllm"), root);
        YamlNode ec = top.required("ec-transfer");
        EcTransfer ecTransfer = ec == null ? null : ecTransfer(ec);
        YamlNode kv = top.section("kv-transfer");
        KvTransfer kvTransfer = kv == null ? null : kvTransfer(kv);
        List<Node> nodes = nodes(top.required("nodes"), hosts, vllm.restart() == null ? RestartPolicy.ON_FAILURE : vllm.restart());
        YamlNode proxyNode = top.required("proxy");
        ProxySpec proxy = proxyNode == null ? null : proxy(proxyNode, hosts);
        return new Topology(name, model, served, hosts, vllm, ecTransfer, kvTransfer, nodes, proxy);
    }

    private Map<String, Host> hosts(YamlNode node) {
        Map<String, Host> hosts = new LinkedHashMap<>();
        if (node == null) {
            return hosts;
        }
        if (!(node instanceof YamlNode.Mapping mapping) || mapping.entries().isEmpty()) {
            problems.error(node.path(), node.location(), "expected a mapping of host names to hosts, got " + node.kind());
            return hosts;
        }
        for (YamlNode.Entry entry : mapping.entries().values()) {
            MappingReader reader = new MappingReader(entry.value(), HOST_KEYS, problems);
            String address = reader.requiredString("address");
            String badAddress = address == null ? null : Addresses.problem(address);
            if (badAddress != null) {
                YamlNode at = reader.node("address");
                reader.fail(at.path(), at.location(), badAddress);
            }
            String transport = reader.optionalString("transport", null);
            Host.TransportKind kind = null;
            if (transport == null && address != null) {
                kind = Addresses.isLoopback(address) ? Host.TransportKind.LOCAL : Host.TransportKind.SSH;
            } else if ("local".equals(transport)) {
                kind = Host.TransportKind.LOCAL;
            } else if ("ssh".equals(transport)) {
                kind = Host.TransportKind.SSH;
            } else if (transport != null) {
                YamlNode at = reader.node("transport");
                reader.fail(at.path(), at.location(), "unknown transport '" + transport + "' (expected local or ssh)");
            }
            String user = reader.optionalString("user", null);
            Integer sshPort = reader.optionalInt("ssh-port", 1, MAX_PORT, null);
            String identityFile = reader.optionalString("identity-file", null);
            Integer npus = reader.optionalInt("npus", 1, MAX_DEVICE + 1, null);
            hostRuntimes.put(entry.key(), runtime(reader, "hosts." + entry.key()));
            // A broken host stays declared (as null), so that nodes naming it are not also told it is unknown.
            hosts.put(entry.key(), reader.isComplete()
                    ? new Host(entry.key(), address, kind, user, sshPort, identityFile, npus)
                    : null);
        }
        return hosts;
    }

    private VllmSettings vllm(YamlNode node, YamlNode root) {
        MappingReader reader = new MappingReader(
                node == null ? new YamlNode.Mapping("vllm", root.location(), Map.of()) : node, VLLM_KEYS, problems);
        vllmRuntime = runtime(reader, "vllm");
        return new VllmSettings(
                reader.optionalString("command", "vllm"), reader.env("env"), reader.stringList("setup"), reader.args("args"),
                restart(reader, RestartPolicy.ON_FAILURE));
    }

    private EcTransfer ecTransfer(YamlNode node) {
        MappingReader reader = new MappingReader(node, EC_KEYS, problems);
        String connector = reader.optionalString("connector", EcTransfer.EXAMPLE_CONNECTOR);
        String path = reader.optionalString("shared-storage-path", null);
        Map<String, Object> extra = reader.jsonObject("extra-config");
        return reader.isComplete() ? new EcTransfer(connector, path, extra) : null;
    }

    private KvTransfer kvTransfer(YamlNode node) {
        MappingReader reader = new MappingReader(node, KV_KEYS, problems);
        String connector = reader.optionalString("connector", KvTransfer.LAYERWISE_CONNECTOR);
        Integer kvPort = reader.requiredInt("kv-port", 1, MAX_PORT);
        String modulePath = reader.optionalString("module-path", null);
        Map<String, Object> extra = reader.jsonObject("extra-config");
        return reader.isComplete() ? new KvTransfer(connector, kvPort, modulePath, extra) : null;
    }

    /** Checked here rather than in the validator, so that a node with other problems is still told. */
    private static String hostReference(MappingReader reader, Map<String, Host> hosts) {
        String name = reader.requiredString("host");
        if (name != null && !hosts.isEmpty() && !hosts.containsKey(name)) {
            YamlNode at = reader.node("host");
            reader.fail(at.path(), at.location(), "unknown host '" + name + "'" + Suggestions.hint(name, hosts.keySet()));
        }
        return name;
    }

    /** The {@code restart} key's policy, {@code fallback} when it is not given; null after reporting a bad one. */
    private static RestartPolicy restart(MappingReader reader, RestartPolicy fallback) {
        String name = reader.optionalString("restart", null);
        if (name == null) {
            return reader.has("restart") ? null : fallback;
        }
        RestartPolicy policy = RestartPolicy.fromYaml(name);
        if (policy == null) {
            YamlNode at = reader.node("restart");
            reader.fail(at.path(), at.location(), "unknown restart policy '" + name + "' (expected "
                    + String.join(" or ", RestartPolicy.yamlNames()) + ")" + Suggestions.hint(name, RestartPolicy.yamlNames()));
        }
        return policy;
    }

    private List<Node> nodes(YamlNode node, Map<String, Host> hosts, RestartPolicy vllmRestart) {
        List<Node> nodes = new ArrayList<>();
        if (node == null) {
            return nodes;
        }
        if (!(node instanceof YamlNode.Sequence sequence) || sequence.items().isEmpty()) {
            problems.error(node.path(), node.location(), "expected a list of nodes, got " + node.kind());
            return nodes;
        }
        // A broken node stays as null, so that nodes[i] in the validator's messages is still the i-th node.
        for (YamlNode item : sequence.items()) {
            nodes.add(node(item, hosts, vllmRestart));
        }
        return nodes;
    }

    /** One node, or null when it has a structural problem (so cross-checks do not trip over it). */
    private Node node(YamlNode item, Map<String, Host> hosts, RestartPolicy vllmRestart) {
        MappingReader reader = new MappingReader(item, NODE_KEYS, problems);
        String name = reader.requiredString("name");
        String roleName = reader.requiredString("role");
        Role role = roleName == null ? null : Role.fromYaml(roleName);
        if (roleName != null && role == null) {
            YamlNode at = reader.node("role");
            reader.fail(at.path(), at.location(), "unknown role '" + roleName + "'" + Suggestions.hint(roleName, Role.yamlNames()));
        }
        String host;
        List<Integer> devices;
        List<Node.RankHost> rankHosts = null;
        YamlNode hostsNode = reader.section("hosts");
        if (hostsNode != null) {
            for (String key : List.of("host", "devices")) {
                YamlNode given = reader.node(key);
                if (given != null) {
                    reader.fail(given.path(), given.location(), key + " cannot be given with hosts (each entry of hosts names its host and devices)");
                }
            }
            rankHosts = rankHosts(reader, hostsNode, hosts);
            host = rankHosts == null ? null : rankHosts.get(0).host();
            devices = rankHosts == null ? null : rankHosts.stream().flatMap(share -> share.devices().stream()).toList();
        } else {
            host = hostReference(reader, hosts);
            devices = reader.requiredIntList("devices", 0, MAX_DEVICE);
        }
        Integer port = reader.requiredInt("port", 1, MAX_PORT);
        Integer tp = reader.optionalInt("tensor-parallel-size", 1, MAX_DEVICE + 1, 1);
        // Over several hosts the group's size follows from its devices unless it is given (then validated against them).
        Integer dp = reader.optionalInt("data-parallel-size", 1, MAX_DEVICE * MAX_DEVICE,
                rankHosts != null && devices != null && tp != null && devices.size() % tp == 0 ? Math.max(1, devices.size() / tp) : 1);
        Integer rpcPort = reader.optionalInt("data-parallel-rpc-port", 1, MAX_PORT, null);
        String mode = reader.optionalString("data-parallel-mode", "internal");
        if (mode != null && !Node.DATA_PARALLEL_MODES.contains(mode)) {
            YamlNode at = reader.node("data-parallel-mode");
            reader.fail(at.path(), at.location(), "unknown data-parallel-mode '" + mode + "' (expected internal or external)"
                    + Suggestions.hint(mode, Node.DATA_PARALLEL_MODES));
        }
        boolean external = "external".equals(mode);
        if (external && dp != null && dp < 2) {
            YamlNode at = reader.node("data-parallel-mode");
            reader.fail(at.path(), at.location(), "data-parallel-mode external needs a data-parallel-size of at least 2 (one "
                    + "process per rank)");
        }
        boolean group = rankHosts != null || external;
        if (group && rpcPort == null && !reader.has("data-parallel-rpc-port")) {
            reader.fail(YamlTreeReader.childPath(item.path(), "data-parallel-rpc-port"), item.location(),
                    "missing required key 'data-parallel-rpc-port': " + (rankHosts != null ? "a node over several hosts" : "a node of "
                            + "data-parallel-mode external") + " needs the port its first rank listens on for the other ranks "
                            + "(vLLM's --data-parallel-rpc-port)");
        } else if (!group && rpcPort != null) {
            YamlNode at = reader.node("data-parallel-rpc-port");
            reader.fail(at.path(), at.location(), "data-parallel-rpc-port is only for a node over several hosts (give hosts) "
                    + "or of data-parallel-mode external");
        }
        Integer kvPort = reader.optionalInt("kv-port", 1, MAX_PORT, null);
        Map<String, String> env = reader.env("env");
        Map<String, ArgValue> args = reader.args("args");
        RestartPolicy restart = restart(reader, vllmRestart);
        RuntimeSettings runtime = runtime(reader, item.path())
                .over(hostRuntimes.getOrDefault(host, RuntimeSettings.NONE)).over(vllmRuntime);
        Container container = null;
        if (!runtime.isDocker()) {
            for (String key : List.of("image", "docker")) {
                YamlNode given = reader.node(key);
                if (given != null) {
                    problems.warning(given.path(), given.location(), key + " is only used by runtime: docker, and this node runs as a process"
                            + (runtime.runtime() == null ? "" : " (runtime given in " + runtime.runtimeAt() + ")"));
                }
            }
        }
        if (runtime.isDocker()) {
            if (runtime.image() == null) {
                reader.fail(item.path(), item.location(), "runtime docker (given in " + runtime.runtimeAt()
                        + ") needs an image: set image on the node, its host or vllm");
            } else {
                container = runtime.container();
            }
        }
        if (group && container != null) {
            reader.fail(item.path(), item.location(), "a node over several hosts or of data-parallel-mode external runs as "
                    + "processes: runtime docker is not "
                    + "supported for it (runtime given in " + runtime.runtimeAt() + ")");
        }
        if (!reader.isComplete()) {
            return null;
        }
        return new Node(name, role, host, devices, port, tp, dp, kvPort, env, args, restart, container, rankHosts, rpcPort, external);
    }

    /** The entries of a node's {@code hosts}: at least two, each {@code {host, devices}}; null after reporting a problem. */
    private List<Node.RankHost> rankHosts(MappingReader node, YamlNode value, Map<String, Host> hosts) {
        if (!(value instanceof YamlNode.Sequence sequence) || sequence.items().size() < 2) {
            node.fail(value.path(), value.location(), value instanceof YamlNode.Sequence
                    ? "expected at least two hosts (a node on one host gives host and devices)"
                    : "expected a list of {host, devices}, got " + value.kind());
            return null;
        }
        List<Node.RankHost> shares = new ArrayList<>();
        for (YamlNode item : sequence.items()) {
            MappingReader reader = new MappingReader(item, RANK_HOST_KEYS, problems);
            String host = hostReference(reader, hosts);
            List<Integer> devices = reader.requiredIntList("devices", 0, MAX_DEVICE);
            if (!reader.isComplete()) {
                node.incomplete();
                continue;
            }
            shares.add(new Node.RankHost(host, devices));
        }
        return shares.size() == sequence.items().size() ? shares : null;
    }

    /** The {@code runtime}, {@code image} and {@code docker} keys of one level of the file; see {@link RuntimeSettings}. */
    private RuntimeSettings runtime(MappingReader reader, String where) {
        String runtime = reader.optionalString("runtime", null);
        if (runtime != null && !RuntimeSettings.RUNTIMES.contains(runtime)) {
            YamlNode at = reader.node("runtime");
            reader.fail(at.path(), at.location(), "unknown runtime '" + runtime + "' (expected process or docker)"
                    + Suggestions.hint(runtime, RuntimeSettings.RUNTIMES));
            runtime = null;
        }
        String image = reader.optionalString("image", null);
        YamlNode dockerNode = reader.section("docker");
        String command = null;
        List<String> args = null;
        if (dockerNode != null) {
            MappingReader docker = new MappingReader(dockerNode, DOCKER_KEYS, problems);
            command = docker.optionalString("command", null);
            args = docker.has("args") ? dockerArgs(docker) : null;
            if (!docker.isComplete()) {
                reader.incomplete();
            }
        }
        return new RuntimeSettings(runtime, where, image, command, args);
    }

    /** Extra {@code docker run} flags: strings, none of those epdctl sets itself ({@link #RESERVED_DOCKER_FLAGS}). */
    private List<String> dockerArgs(MappingReader docker) {
        YamlNode value = docker.node("args");
        List<String> args = docker.stringList("args");
        if (value instanceof YamlNode.Sequence sequence) {
            for (int i = 0; i < args.size() && i < sequence.items().size(); i++) {
                String arg = args.get(i);
                String flag = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
                String why = RESERVED_DOCKER_FLAGS.get(flag);
                if (why != null) {
                    YamlNode at = sequence.items().get(i);
                    docker.fail(at.path(), at.location(), "'" + flag + "' cannot be given here: " + why);
                }
            }
        }
        return args;
    }

    private ProxySpec proxy(YamlNode node, Map<String, Host> hosts) {
        MappingReader reader = new MappingReader(node, PROXY_KEYS, problems);
        String host = hostReference(reader, hosts);
        Integer port = reader.requiredInt("port", 1, MAX_PORT);
        String script = reader.optionalString("script", null);
        ProxyKind kind = proxyKind(reader, script);
        String python = reader.optionalString("python", "python3");
        String command = reader.optionalString("command", "epdctl");
        Map<String, String> env = reader.env("env");
        List<String> setup = reader.stringList("setup");
        Map<String, ArgValue> args = reader.args("args");
        RestartPolicy restart = restart(reader, RestartPolicy.ON_FAILURE);
        return reader.isComplete() ? new ProxySpec(host, port, script, kind, python, command, env, setup, args, restart) : null;
    }

    /**
     * Which upstream proxy the script is: {@code kind} as given, or the one whose upstream file name the script has
     * (a renamed copy needs {@code kind}). Null for the built-in proxy, and after reporting why there is none.
     */
    private static ProxyKind proxyKind(MappingReader reader, String script) {
        String name = reader.optionalString("kind", null);
        String kinds = ProxyKind.yamlNames().stream()
                .map(known -> known + " (" + ProxyKind.fromYaml(known).orElseThrow().fileName() + ")")
                .collect(Collectors.joining(", "));
        if (name != null) {
            YamlNode at = reader.node("kind");
            ProxyKind kind = ProxyKind.fromYaml(name).orElse(null);
            if (kind == null) {
                reader.fail(at.path(), at.location(), "unknown proxy kind '" + name + "' (expected one of " + kinds + ")");
            } else if (script == null && !reader.has("script")) {
                reader.fail(at.path(), at.location(), "kind names an upstream proxy script, but there is no 'script': "
                        + "give the script's path, or leave kind out for the built-in proxy");
            }
            return kind;
        }
        if (script == null) {
            return null;
        }
        return ProxyKind.ofScript(script).orElseGet(() -> {
            YamlNode at = reader.node("script");
            reader.fail(at.path(), at.location(), "cannot tell which upstream proxy '" + script + "' is from its file "
                    + "name: set proxy.kind to one of " + kinds);
            return null;
        });
    }
}
