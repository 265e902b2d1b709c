package io.epdctl.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.IntSupplier;

/**
 * A deployment of vllm-sim nodes and epdctl's proxy, for lifecycle tests: a topology file with free ports in
 * a temporary directory, its own state directory, and a marker in every process's environment. {@link #close()}
 * runs {@code epdctl down} and then kills whatever still carries the marker, so a failing test leaves nothing.
 * Needs the packaged jar (bin/vllm-sim, bin/epdctl): use it from failsafe tests.
 */
public final class SimDeployment implements AutoCloseable {
    public static final String MARKER = "EPDCTL_TEST_RUN";
    private static final Path ROOT = Path.of("").toAbsolutePath();
    /**
     * KV ports lie below the Mooncake transfer engine's range (from 20000), as validation demands: test ports
     * are picked below the ephemeral range (FreePorts), where above the engine's range there is little room.
     */
    private static final int KV_PORT_BELOW = 20000;

    private final String name;
    private final Path file;
    private final Path stateDir;
    private final String marker;
    private final Map<String, Integer> ports;

    private SimDeployment(String name, Path file, Path stateDir, String marker, Map<String, Integer> ports) {
        this.name = name;
        this.file = file;
        this.stateDir = stateDir;
        this.marker = marker;
        this.ports = ports;
    }

    public static Builder builder(Path dir) {
        return new Builder(dir);
    }

    public static final class Builder {
        private final Path dir;
        private String name = "t-" + UUID.randomUUID().toString().substring(0, 8);
        private int encoders = 1;
        private int prefills = 1;
        private int decodes = 1;
        private int combined = 0;
        private List<String> spreadOver = List.of();
        private int startupDelayMs = 300;
        private final Map<String, String> hosts = new LinkedHashMap<>(Map.of("local", "{address: 127.0.0.1}"));
        private final Map<String, String> nodeHosts = new LinkedHashMap<>();
        private final Map<String, List<String>> nodeOverHosts = new LinkedHashMap<>();
        private final Set<String> externalDp = new HashSet<>();
        private String proxyHost = "local";
        private final Map<String, Map<String, String>> nodeEnv = new LinkedHashMap<>();
        private final Map<String, String> nodeArgs = new LinkedHashMap<>();
        private String restart;
        private final Map<String, String> nodeRestart = new LinkedHashMap<>();
        private String proxyEntries;
        private String kvConnector = "MooncakeLayerwiseConnector";

        private Builder(Path dir) {
            this.dir = dir;
        }

        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /** E+PD instead of E+P+D. */
        public Builder combinedPrefillDecode() {
            this.combined = 1;
            this.prefills = 0;
            this.decodes = 0;
            return this;
        }

        /** E+PD with {@code encoders} encoders and {@code count} PD nodes. */
        public Builder combinedPrefillDecode(int encoders, int count) {
            this.encoders = encoders;
            this.combined = count;
            this.prefills = 0;
            this.decodes = 0;
            return this;
        }

        /**
         * The KV connector ({@code MooncakeLayerwiseConnector} by default); with {@code MooncakeConnectorV1} the
         * prefill nodes get the KV ports (they bind the handshake), not the decode nodes.
         */
        public Builder kvConnector(String connector) {
            this.kvConnector = connector;
            return this;
        }

        /** How many nodes of each role (E+P+D); the nodes of the side that binds each get their own KV port. */
        public Builder shape(int encoders, int prefills, int decodes) {
            this.encoders = encoders;
            this.prefills = prefills;
            this.decodes = decodes;
            return this;
        }

        /** Nodes not placed with {@link #nodeOn} go to these hosts in turn. */
        public Builder spreadOver(List<String> hosts) {
            this.spreadOver = List.copyOf(hosts);
            return this;
        }

        public Builder startupDelayMs(int millis) {
            this.startupDelayMs = millis;
            return this;
        }

        /** Another host, as a YAML flow mapping: {@code {address: 127.0.0.2, transport: ssh, ...}}. */
        public Builder host(String hostName, String yaml) {
            hosts.put(hostName, yaml);
            return this;
        }

        public Builder nodeOn(String node, String host) {
            nodeHosts.put(node, host);
            return this;
        }

        /**
         * One node as a data-parallel group over {@code hosts} (nodes[].hosts), one NPU and rank on each; its RPC port is
         * {@code port(NODE + ".rpc")}.
         */
        public Builder nodeOverHosts(String node, List<String> hosts) {
            nodeOverHosts.put(node, List.copyOf(hosts));
            return this;
        }

        /**
         * One node as external data parallelism over {@code hosts} (data-parallel-mode: external): one process and port per
         * rank, one rank per host; rank R serves on {@code port(NODE) + R}.
         */
        public Builder nodeExternalOverHosts(String node, List<String> hosts) {
            externalDp.add(node);
            return nodeOverHosts(node, hosts);
        }

        public Builder proxyOn(String host) {
            this.proxyHost = host;
            return this;
        }

        public Builder nodeEnv(String node, String key, String value) {
            nodeEnv.computeIfAbsent(node, n -> new LinkedHashMap<>()).put(key, value);
            return this;
        }

        /** Extra args of one node, as a YAML flow mapping body: {@code max-num-seqs: 64}. */
        public Builder nodeArgs(String node, String yamlBody) {
            nodeArgs.put(node, yamlBody);
            return this;
        }

        /** The restart policy of every node, in the vllm section ({@code on-failure}, {@code never}). */
        public Builder restart(String policy) {
            this.restart = policy;
            return this;
        }

        /** One node's own restart policy. */
        public Builder nodeRestart(String node, String policy) {
            nodeRestart.put(node, policy);
            return this;
        }

        /**
         * An upstream proxy script instead of the built-in proxy, run by {@code python}; {@code kind} as
         * {@code proxy.kind}, or null to let the script's file name tell.
         */
        public Builder scriptProxy(Path script, String kind, Path python) {
            this.proxyEntries = "script: " + script + (kind == null ? "" : ", kind: " + kind) + ", python: " + python;
            return this;
        }

        /** P+D without encoders (the load-balance proxy's layout). */
        public Builder withoutEncoders() {
            this.encoders = 0;
            return this;
        }

        public SimDeployment write() {
            String marker = UUID.randomUUID().toString();
            Map<String, Integer> ports = new LinkedHashMap<>();
            Set<Integer> taken = new HashSet<>(); // the OS may hand out one free port twice in a row
            List<String[]> nodes = new ArrayList<>();
            for (int i = 0; i < encoders; i++) {
                nodes.add(new String[] {"e" + i, "encoder"});
            }
            for (int i = 0; i < prefills; i++) {
                nodes.add(new String[] {"p" + i, "prefill"});
            }
            for (int i = 0; i < decodes; i++) {
                nodes.add(new String[] {"d" + i, "decode"});
            }
            for (int i = 0; i < combined; i++) {
                nodes.add(new String[] {"pd" + i, "pd"});
            }
            StringBuilder yaml = new StringBuilder();
            yaml.append("name: ").append(name).append('\n')
                    .append("model: sim/model\nserved-model-name: simvl\n")
                    .append("hosts:\n");
            hosts.forEach((host, spec) -> yaml.append("  ").append(host).append(": ").append(spec).append('\n'));
            yaml.append("vllm:\n  command: ").append(ROOT.resolve("bin/vllm-sim")).append('\n')
                    .append("  env: {").append(MARKER).append(": ").append(marker)
                    .append(", VLLM_SIM_STARTUP_DELAY_MS: '").append(startupDelayMs).append("'}\n")
                    .append(restart == null ? "" : "  restart: " + restart + "\n")
                    .append("ec-transfer: {connector: ECExampleConnector, shared-storage-path: ").append(dir.resolve("ec")).append("}\n");
            if (decodes > 0) {
                yaml.append("kv-transfer: {connector: ").append(kvConnector).append(", kv-port: ").append(kvPort(taken))
                        .append("}\n");
            }
            yaml.append("nodes:\n");
            for (int i = 0; i < nodes.size(); i++) {
                String node = nodes.get(i)[0];
                int port = port(taken);
                ports.put(node, port);
                String host = nodeHosts.getOrDefault(node, spreadOver.isEmpty() ? "local" : spreadOver.get(i % spreadOver.size()));
                yaml.append("  - {name: ").append(node).append(", role: ").append(nodes.get(i)[1]);
                List<String> group = nodeOverHosts.get(node);
                if (group == null) {
                    yaml.append(", host: ").append(host).append(", devices: [").append(i).append("]");
                } else {
                    // NPUs above every single node's (all loopback hosts are one machine): 100 + 10 * node + host
                    yaml.append(", hosts: [");
                    for (int j = 0; j < group.size(); j++) {
                        yaml.append(j == 0 ? "" : ", ").append("{host: ").append(group.get(j)).append(", devices: [")
                                .append(100 + 10 * i + j).append("]}");
                    }
                    int rpc = port(taken);
                    ports.put(node + ".rpc", rpc);
                    yaml.append("], data-parallel-rpc-port: ").append(rpc);
                    if (externalDp.contains(node)) {
                        yaml.append(", data-parallel-mode: external");
                        for (int rank = 1; rank < group.size(); rank++) {
                            taken.add(port + rank); // the other ranks' ports
                        }
                    }
                }
                yaml.append(", port: ").append(port);
                if (nodes.get(i)[1].equals(kvConnector.equals("MooncakeConnectorV1") ? "prefill" : "decode")) {
                    yaml.append(", kv-port: ").append(kvPort(taken));
                }
                Map<String, String> env = nodeEnv.get(node);
                if (env != null) {
                    yaml.append(", env: {");
                    env.forEach((key, value) -> yaml.append(key).append(": '").append(value).append("', "));
                    yaml.setLength(yaml.length() - 2);
                    yaml.append('}');
                }
                if (nodeRestart.containsKey(node)) {
                    yaml.append(", restart: ").append(nodeRestart.get(node));
                }
                if (nodeArgs.containsKey(node)) {
                    yaml.append(", args: {").append(nodeArgs.get(node)).append('}');
                }
                yaml.append("}\n");
            }
            int proxyPort = port(taken);
            ports.put("proxy", proxyPort);
            yaml.append("proxy: {host: ").append(proxyHost).append(", port: ").append(proxyPort)
                    .append(", ").append(proxyEntries != null ? proxyEntries : "command: " + ROOT.resolve("bin/epdctl"))
                    .append(", env: {").append(MARKER).append(": ").append(marker).append("}}\n");
            try {
                Files.createDirectories(dir);
                Path file = dir.resolve(name + ".yaml");
                Files.writeString(file, yaml);
                return new SimDeployment(name, file, dir.resolve("state"), marker, ports);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** A free port that this deployment does not use yet. */
    private static int port(Set<Integer> taken) {
        return unused(taken, FreePorts::pick);
    }

    /** A free KV port below the Mooncake range that this deployment does not use yet. */
    private static int kvPort(Set<Integer> taken) {
        return unused(taken, () -> FreePorts.pickBelow(KV_PORT_BELOW));
    }

    private static int unused(Set<Integer> taken, IntSupplier free) {
        while (true) {
            int port = free.getAsInt();
            if (taken.add(port)) {
                return port;
            }
        }
    }

    public String name() {
        return name;
    }

    public Path file() {
        return file;
    }

    public Path stateDir() {
        return stateDir;
    }

    public int port(String process) {
        return ports.get(process);
    }

    public String proxyUrl() {
        return "http://127.0.0.1:" + ports.get("proxy");
    }

    /** Runs epdctl in this JVM with this deployment's state directory appended. */
    public Cli.Result epdctl(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--state-dir", stateDir.toString()));
        return Cli.run(all.toArray(String[]::new));
    }

    public Cli.Result up(String... extra) {
        List<String> all = new ArrayList<>(List.of("up", file.toString(), "--timeout", "2m"));
        all.addAll(List.of(extra));
        return epdctl(all.toArray(String[]::new));
    }

    /** Processes of this deployment alive on this machine, per the process table. */
    public List<Long> processes() {
        return ProcessTable.withEnvironment(MARKER, marker);
    }

    /**
     * Processes of this deployment still alive after a bounded wait: one killed a moment ago may still be
     * on its way out of the process table.
     */
    public List<Long> processesLeft() throws InterruptedException {
        return ProcessTable.awaitGone(() -> processes().stream().flatMap(pid -> ProcessHandle.of(pid).stream()).toList())
                .stream().map(ProcessHandle::pid).toList();
    }

    /** The live processes of this deployment with their command lines, for assertion messages. */
    public String describeProcesses() {
        return String.join("\n", processes().stream()
                .map(pid -> pid + " " + ProcessHandle.of(pid).flatMap(handle -> handle.info().commandLine()).orElse("?"))
                .toList());
    }

    public String marker() {
        return marker;
    }

    @Override
    public void close() {
        if (!processes().isEmpty()) {
            epdctl("down", name, "--grace", "2s");
            ProcessTable.killAll(MARKER, marker);
        }
    }
}
