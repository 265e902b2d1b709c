package io.epdctl.topology;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The cross-checks: everything about a topology that is wrong although each field alone is well formed.
 * Runs on the binder's draft, skipping the parts that already had a problem.
 */
final class TopologyValidator {
    /** Names end up in file names, state directories and scripts: keep them plain. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*");
    /** Leaves room within a file name's 255 bytes for what epdctl adds to a node's name. */
    static final int MAX_NAME_LENGTH = 128;

    /** Flags epdctl derives, with where the value comes from. */
    private static final Map<String, String> DERIVED_FLAGS = Map.ofEntries(
            Map.entry("port", "the node's port"),
            Map.entry("served-model-name", "served-model-name"),
            Map.entry("tensor-parallel-size", "the node's tensor-parallel-size"),
            Map.entry("data-parallel-size", "the node's data-parallel-size"),
            Map.entry("data-parallel-size-local", "the devices of each of the node's hosts"),
            Map.entry("data-parallel-start-rank", "the node's hosts"),
            Map.entry("data-parallel-rank", "the node's data-parallel-mode external (one process per rank)"),
            Map.entry("data-parallel-address", "the address of the node's first host"),
            Map.entry("data-parallel-rpc-port", "the node's data-parallel-rpc-port"),
            Map.entry("headless", "the node's hosts (every host but the first)"),
            Map.entry("ec-transfer-config", "the ec-transfer section and the node's role"),
            Map.entry("kv-transfer-config", "the kv-transfer section and the node's role"));
    private static final Set<String> DERIVED_PROXY_FLAGS = Set.of(
            "host", "port", "encoder-hosts", "encoder-ports", "pd-hosts", "pd-ports",
            "prefiller-hosts", "prefiller-ports", "decoder-hosts", "decoder-ports", "kv-flow",
            "encode-servers-urls", "prefill-servers-urls", "decode-servers-urls");

    /** The Mooncake transfer engine picks its ports from [base, base + 1000 per NPU) on each host. */
    static final int MOONCAKE_BASE_PORT = 20000;
    static final int MOONCAKE_PORTS_PER_NPU = 1000;
    /** The most NPUs one host has today (A3): beyond its range a kv-port is safe whatever the host. */
    static final int MOST_NPUS_PER_HOST = 16;

    /** Directories whose loss breaks the machine: never an EC cache, which `up` wipes. */
    private static final Set<String> SYSTEM_DIRECTORIES = Set.of(
            "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt", "/opt",
            "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/data");

    private final Topology t;
    private final SourceMap sources;
    private final Problems problems;
    /** Per machine, one more than the highest NPU id used on it; computed once, on first use. */
    private Map<String, Integer> npusUsed;

    TopologyValidator(Topology draft, SourceMap sources, Problems problems) {
        this.t = draft;
        this.sources = sources;
        this.problems = problems;
    }

    void validate() {
        checkNames();
        checkRoles();
        checkParallelism();
        checkDevices();
        checkKvPorts();
        checkListeners();
        checkEcTransfer();
        checkKvTransfer();
        checkProxyKind();
        checkReachability();
        checkDerivedSettings();
        checkUnusedHosts();
    }

    private void error(String path, String message) {
        problems.error(path, sources.locate(path), message);
    }

    private void warning(String path, String message) {
        problems.warning(path, sources.locate(path), message);
    }

    /** Indices of the nodes that bound without problems. */
    private List<Integer> nodeIndices() {
        return IntStream.range(0, t.nodes().size()).filter(i -> t.nodes().get(i) != null).boxed().toList();
    }

    private Node node(int i) {
        return t.nodes().get(i);
    }

    /** The ports and NPUs of node {@code i}, as everything else derives them. */
    private Footprint footprint(int i) {
        return Footprint.of(node(i), t.kvTransfer());
    }

    private static String nodePath(int i) {
        return "nodes[" + i + "]";
    }

    private String describe(int i) {
        return nodePath(i) + " (" + node(i).name() + ")";
    }

    /** The host of a node or of the proxy, or null when the name is unknown (reported elsewhere). */
    private Host host(String name) {
        return name == null ? null : t.hosts().get(name);
    }

    private void checkNames() {
        if (t.name() != null) {
            checkName("name", "'" + t.name() + "'", t.name());
        }
        for (String host : t.hosts().keySet()) {
            checkName("hosts." + host, "host name '" + host + "'", host);
        }
        Map<String, Integer> seen = new HashMap<>();
        for (int i : nodeIndices()) {
            String name = node(i).name();
            String path = nodePath(i) + ".name";
            if (checkName(path, "'" + name + "'", name)) {
                if (name.equals(ProxySpec.NAME)) {
                    error(path, "'proxy' is the name of the proxy's script; choose another node name");
                } else if (name.equals(ProxySpec.HANDOVER_NAME)) {
                    error(path, "'" + name + "' is the name of the proxy that serves while the proxy is replaced; choose another node name");
                }
            }
            Integer first = seen.putIfAbsent(name, i);
            if (first != null) {
                error(path, "duplicate node name '" + name + "' (also " + nodePath(first)
                        + " at line " + sources.locate(nodePath(first)).line() + ")");
            }
        }
        // The other hosts' processes of a node over several hosts are named after it; no node may take such a name.
        for (int i : nodeIndices()) {
            Footprint footprint = footprint(i);
            for (Placement placement : footprint.placements().subList(1, footprint.placements().size())) {
                String process = footprint.processName(placement);
                Integer other = seen.get(process);
                if (other != null) {
                    error(nodePath(other) + ".name", "'" + process + "' is the name of the process of " + describe(i)
                            + " on host '" + placement.host() + "' (its ranks from " + placement.dpStartRank() + "); choose another node name");
                }
            }
        }
        if (t.model() != null && t.model().startsWith("-")) {
            error("model", "'" + t.model() + "' begins with '-': vllm serve would read it as an option; "
                    + "write a path as ./" + t.model());
        }
    }

    /** Names become file and directory names (NODE.log.1, a temporary NODE.sh.*.tmp): plain, and short enough. */
    private boolean checkName(String path, String what, String name) {
        if (!NAME.matcher(name).matches()) {
            error(path, what + " is not a plain name: use letters, digits, '.', '_' and '-'");
            return false;
        }
        if (name.length() > MAX_NAME_LENGTH) {
            error(path, "'" + name.substring(0, 20) + "...' is " + name.length() + " characters long: names become "
                    + "file names, and may have at most " + MAX_NAME_LENGTH);
            return false;
        }
        return true;
    }

    private void checkRoles() {
        Map<Role, List<Integer>> byRole = new LinkedHashMap<>();
        for (Role role : Role.values()) {
            byRole.put(role, new ArrayList<>());
        }
        for (int i : nodeIndices()) {
            byRole.get(node(i).role()).add(i);
        }
        if (t.nodes().contains(null)) {
            return; // a node whose role may be unknown: role rules would only add noise
        }
        List<Integer> encoders = byRole.get(Role.ENCODER);
        List<Integer> pds = byRole.get(Role.PD);
        List<Integer> prefills = byRole.get(Role.PREFILL);
        List<Integer> decodes = byRole.get(Role.DECODE);
        boolean loadBalance = t.proxy() != null && t.proxy().kind() == ProxyKind.LOAD_BALANCE;
        if (!t.nodes().isEmpty() && encoders.isEmpty() && !loadBalance) {
            error("nodes", "no encoder: an EPD deployment needs at least one node with role encoder (prefill and decode "
                    + "nodes without encoders run behind proxy.kind " + ProxyKind.LOAD_BALANCE.describe() + ")");
        }
        if (!pds.isEmpty() && !(prefills.isEmpty() && decodes.isEmpty())) {
            int mixed = prefills.isEmpty() ? decodes.get(0) : prefills.get(0);
            error(nodePath(mixed) + ".role", "role " + node(mixed).role().yamlName() + " cannot be mixed with pd nodes ("
                    + describe(pds.get(0)) + " is pd): use either pd nodes, or prefill and decode nodes");
        } else if (!prefills.isEmpty() && decodes.isEmpty()) {
            error(nodePath(prefills.get(0)) + ".role", "prefill nodes need at least one decode node to hand the KV cache to");
        } else if (prefills.isEmpty() && !decodes.isEmpty()) {
            error(nodePath(decodes.get(0)) + ".role", "decode nodes need at least one prefill node to receive the KV cache from");
        } else if (!encoders.isEmpty() && pds.isEmpty() && prefills.isEmpty()) {
            error("nodes", "the encoders have no consumer: add pd nodes, or prefill and decode nodes");
        }
    }

    private void checkParallelism() {
        for (int i : nodeIndices()) {
            Node node = node(i);
            Set<String> machines = new HashSet<>();
            for (int j = 0; node.spansHosts() && j < node.rankHosts().size(); j++) {
                Node.RankHost share = node.rankHosts().get(j);
                if (share.devices().size() % node.tensorParallelSize() != 0) {
                    error(nodePath(i) + ".hosts[" + j + "].devices", share.devices().size() + " device(s) given on host '"
                            + share.host() + "', not a multiple of tensor-parallel-size " + node.tensorParallelSize()
                            + " (each host runs whole data-parallel ranks)");
                }
                if (!machines.add(share.host())) {
                    error(nodePath(i) + ".hosts[" + j + "].host", "host '" + share.host() + "' is listed twice: give each "
                            + "host once, with all its devices");
                }
            }
            if (node.devices().size() != node.ranks()) {
                error(nodePath(i) + (node.spansHosts() ? ".hosts" : ".devices"), node.devices().size() + " device(s) given, but tensor-parallel-size "
                        + node.tensorParallelSize() + " x data-parallel-size " + node.dataParallelSize()
                        + " needs " + node.ranks());
            }
        }
        // Every P and D instance carries one shared {dp_size, tp_size} block per side and checks its own.
        Integer prefill = firstOf(Role.PREFILL);
        Integer decode = firstOf(Role.DECODE);
        sameParallelism(Role.PREFILL, prefill);
        sameParallelism(Role.DECODE, decode);
        if (prefill != null && decode != null
                && node(prefill).tensorParallelSize() % node(decode).tensorParallelSize() != 0) {
            // MooncakeConnectorV1's workers refuse prefill tp < decode tp (ValueError) and split the heads in
            // whole shares; the layerwise connector asserts the multiple
            error(nodePath(prefill) + ".tensor-parallel-size", "the prefill tensor-parallel-size ("
                    + node(prefill).tensorParallelSize() + ") must be " + (kvFlow() == KvFlow.PULL
                            ? "at least the decode tensor-parallel-size and a multiple of it ("
                            : "a multiple of the decode tensor-parallel-size (")
                    + node(decode).tensorParallelSize() + ", " + describe(decode) + ")");
        }
    }

    private Integer firstOf(Role role) {
        return nodeIndices().stream().filter(i -> node(i).role() == role).findFirst().orElse(null);
    }

    private void sameParallelism(Role role, Integer first) {
        if (first == null) {
            return;
        }
        for (int i : nodeIndices()) {
            Node node = node(i);
            if (node.role() == role && (node.tensorParallelSize() != node(first).tensorParallelSize()
                    || node.dataParallelSize() != node(first).dataParallelSize())) {
                error(nodePath(i) + ".tensor-parallel-size", "all " + role.yamlName() + " nodes need the same tensor and "
                        + "data parallel sizes (the KV connector describes them in one block), but " + describe(first)
                        + " has tp " + node(first).tensorParallelSize() + " x dp " + node(first).dataParallelSize()
                        + " and this one tp " + node.tensorParallelSize() + " x dp " + node.dataParallelSize());
            }
        }
    }

    private void checkDevices() {
        Map<String, Integer> owners = new HashMap<>(); // machine + NPU -> node index
        for (int i : nodeIndices()) {
            List<Placement> placements = footprint(i).placements();
            for (int k = 0; k < placements.size(); k++) {
                Placement placement = placements.get(k);
                Host host = host(placement.host());
                Set<Integer> own = new LinkedHashSet<>();
                int j = 0;
                for (int device : placement.npus()) {
                    String path = (node(i).spansHosts() ? nodePath(i) + ".hosts[" + k + "]" : nodePath(i)) + ".devices[" + j++ + "]";
                    if (!own.add(device)) {
                        error(path, "NPU " + device + " is listed twice");
                        continue;
                    }
                    if (host == null) {
                        continue;
                    }
                    if (host.npus() != null && device >= host.npus()) {
                        error(path, "NPU " + device + " does not exist: host '" + placement.host() + "' has " + host.npus()
                                + " NPUs (0-" + (host.npus() - 1) + ")");
                    }
                    Integer owner = owners.putIfAbsent(host.machine() + "/" + device, i);
                    if (owner != null) {
                        String taken = "NPU " + device + " on " + machineName(host);
                        problems.error(path, sources.locate(path), taken + " is already given to " + describe(owner),
                                new Problems.Kind("npu|" + host.machine() + "|" + device,
                                        "nodes given " + taken + ", already given to " + describe(owner)));
                    }
                }
            }
        }
    }

    private static String machineName(Host host) {
        return host.machine().equals("this machine") ? "this machine" : "host " + host.address();
    }

    /** The flow of the draft's connector; layerwise (the default connector's) when kv-transfer did not bind. */
    private KvFlow kvFlow() {
        return t.kvTransfer() == null ? KvFlow.LAYERWISE : t.kvTransfer().flow();
    }

    private void checkKvPorts() {
        KvFlow flow = kvFlow();
        Role binding = flow.bindingRole();
        for (int i : nodeIndices()) {
            Node node = node(i);
            if (node.kvPort() != null && node.role() != binding) {
                error(nodePath(i) + ".kv-port", flow == KvFlow.PULL
                        ? "kv-port is for prefill nodes only with " + KvTransfer.PULL_CONNECTOR + ": they listen on it "
                                + "(the handshake the decoder pulls through), decode nodes connect to the port a prefill "
                                + "node announces"
                        : "kv-port is for decode nodes only: they listen on it, "
                                + "prefill nodes connect to the port a decode node announces");
            }
        }
        if (t.kvTransfer() == null || !hasKvNodes()) {
            return;
        }
        for (int i : nodeIndices()) {
            for (Placement placement : footprint(i).placements()) {
                Host host = host(placement.host());
                Listener kv = placement.listener(Listener.Kind.KV).orElse(null);
                if (host != null && kv != null) {
                    checkKvRange(i, placement.host(), host, kv);
                }
            }
        }
    }

    private void checkKvRange(int i, String hostName, Host host, Listener kv) {
        int first = kv.first();
        int last = kv.last();
        String path = kvPortPath(i);
        if (last > TopologyBinder.MAX_PORT) {
            error(path, "the KV ports of " + describe(i) + " would run past 65535 (" + first + "-" + last + ")");
            return;
        }
        boolean npusKnown = host.npus() != null;
        int npus = npusKnown ? host.npus() : devicesUsedOn(host.machine());
        int engineEnd = MOONCAKE_BASE_PORT + MOONCAKE_PORTS_PER_NPU * npus;
        if (first < engineEnd && last >= MOONCAKE_BASE_PORT) {
            error(path, "the KV ports " + first + "-" + last + " of " + describe(i) + " fall inside the range the "
                    + "Mooncake transfer engine takes its ports from on host '" + hostName + "' ("
                    + MOONCAKE_BASE_PORT + "-" + (engineEnd - 1) + " for " + (npusKnown ? "" : "at least ") + npus
                    + " NPUs), which fails now and then with 'Address already in use'; use a kv-port of at least "
                    + engineEnd);
        } else if (!npusKnown && first < MOONCAKE_BASE_PORT + MOONCAKE_PORTS_PER_NPU * MOST_NPUS_PER_HOST
                && last >= MOONCAKE_BASE_PORT) {
            warning(path, "the KV ports " + first + "-" + last + " of " + describe(i) + " may fall inside the Mooncake "
                    + "transfer engine's range (20000 + 1000 per NPU) if host '" + hostName + "' has more than "
                    + npus + " NPUs; set hosts." + hostName + ".npus to check exactly");
        }
    }

    /** Where a binding node's first KV port is written: its own kv-port, else the deployment's. */
    private String kvPortPath(int i) {
        return node(i).kvPort() != null ? nodePath(i) + ".kv-port" : "kv-transfer.kv-port";
    }

    /** The fewest NPUs a machine can have, given the device ids used on it. */
    private int devicesUsedOn(String machine) {
        if (npusUsed == null) {
            npusUsed = new HashMap<>();
            for (int i : nodeIndices()) {
                for (Placement placement : footprint(i).placements()) {
                    Host host = host(placement.host());
                    for (int device : placement.npus()) {
                        if (host != null) {
                            npusUsed.merge(host.machine(), device + 1, Math::max);
                        }
                    }
                }
            }
        }
        return npusUsed.getOrDefault(machine, 1);
    }

    /** A port or port range something listens on, on one machine; {@code what} names it in messages. */
    private record Claim(int order, String machine, int first, int last, String path, String what) {
    }

    private void checkListeners() {
        List<Claim> claims = new ArrayList<>();
        for (int i : nodeIndices()) {
            for (Placement placement : footprint(i).placements()) {
                Host host = host(placement.host());
                if (host == null) {
                    continue;
                }
                for (Listener listener : placement.listeners()) {
                    int first = listener.first();
                    int last = listener.last();
                    if (listener.kind() == Listener.Kind.KV && node(i).devices().size() != node(i).ranks()) {
                        continue; // its size is wrong, which checkParallelism reports
                    }
                    claims.add(switch (listener.kind()) {
                        case HTTP -> new Claim(claims.size(), host.machine(), first, last, nodePath(i) + ".port",
                                "port " + first + " of " + describe(i) + (node(i).dataParallelExternal() && node(i).isGroup()
                                        ? " (rank " + placement.dpStartRank() + ")" : ""));
                        case DP_RPC -> new Claim(claims.size(), host.machine(), first, last, nodePath(i) + ".data-parallel-rpc-port",
                                "data-parallel RPC port " + first + " of " + describe(i));
                        case KV -> new Claim(claims.size(), host.machine(), first, last, kvPortPath(i),
                                (first == last ? "KV port " + first : "KV ports " + first + "-" + last) + " of " + describe(i)
                                        + (node(i).spansHosts() ? " (ranks " + placement.dpStartRank() + "-"
                                        + (placement.dpStartRank() + placement.dpLocalSize() - 1) + ")" : ""));
                    });
                }
            }
        }
        if (t.proxy() != null) {
            for (Placement placement : Footprint.ofProxy(t.proxy()).placements()) {
                Host host = host(placement.host());
                if (host != null) {
                    int port = placement.httpPort();
                    claims.add(new Claim(claims.size(), host.machine(), port, port, "proxy.port", "port " + port + " of the proxy"));
                }
            }
        }
        // Each port a claim takes goes to the first claim in file order; a later claim is told the first
        // earlier one it meets, so a report grows with the number of claims, not with their pairs.
        Map<String, Map<Integer, Claim>> owners = new HashMap<>();
        for (Claim claim : claims) {
            Map<Integer, Claim> taken = owners.computeIfAbsent(claim.machine(), machine -> new HashMap<>());
            Claim earlier = null;
            for (int port = claim.first(); port <= Math.min(claim.last(), TopologyBinder.MAX_PORT); port++) {
                Claim owner = taken.putIfAbsent(port, claim);
                if (owner != null && (earlier == null || owner.order() < earlier.order())) {
                    earlier = owner;
                }
            }
            if (earlier != null) {
                String machine = claim.machine().equals("this machine") ? "this machine" : "host " + claim.machine();
                problems.error(claim.path(), sources.locate(claim.path()), claim.what() + " on " + machine + " overlaps "
                        + earlier.what(), new Problems.Kind("port|" + earlier.order(),
                        "overlapping " + earlier.what() + " on " + machine));
            }
        }
    }

    private void checkEcTransfer() {
        EcTransfer ec = t.ecTransfer();
        if (ec == null) {
            return;
        }
        if (ec.connector().equals("ECSharedStorageConnector")) {
            error("ec-transfer.connector", "ECSharedStorageConnector was renamed ECExampleConnector in vLLM 0.13; "
                    + "the old name fails with 'Unsupported connector type'");
        }
        String path = ec.sharedStoragePath();
        if (path == null) {
            if (ec.connector().equals(EcTransfer.EXAMPLE_CONNECTOR)) {
                error("ec-transfer.shared-storage-path", "missing required key 'shared-storage-path': the directory "
                        + "where encoders leave the embeddings for their consumers");
            }
            return;
        }
        String reason = unsafeDirectoryReason(path);
        if (reason != null) {
            error("ec-transfer.shared-storage-path", reason);
        }
        if (ec.extraConfig().containsKey("shared_storage_path")) {
            error("ec-transfer.extra-config.shared_storage_path", "set it as ec-transfer.shared-storage-path");
        }
        checkEcSharing();
    }

    /** Why {@code path} must not be the EC cache, which `epdctl up` wipes; null when it is fine. */
    static String unsafeDirectoryReason(String path) {
        if (!path.startsWith("/")) {
            return "'" + path + "' is relative: give an absolute path, the same on every host";
        }
        for (String segment : path.split("/")) {
            if (segment.equals("..") || segment.equals(".")) {
                return "'" + path + "' contains '" + segment + "': give the directory itself";
            }
        }
        String normalized = path.replaceAll("/+", "/").replaceAll("(.)/$", "$1");
        if (normalized.equals("/") || SYSTEM_DIRECTORIES.contains(normalized)
                || normalized.matches("/(home|root)/[^/]+")) {
            return "'" + path + "' is a system or home directory; the EC cache is wiped on every `up`: "
                    + "give a directory of its own, such as /data/ec_cache";
        }
        if (normalized.chars().anyMatch(c -> c < 0x20)) {
            return "the path contains control characters";
        }
        for (String segment : normalized.split("/")) {
            if (segment.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 255) {
                return "'" + segment.substring(0, 20) + "...' is longer than the 255 bytes a file name may have";
            }
        }
        if (normalized.getBytes(java.nio.charset.StandardCharsets.UTF_8).length >= 4096) {
            return "the path is longer than the 4095 bytes a path may have";
        }
        return null;
    }

    /** ECExampleConnector fails silently when a consumer does not see the encoder's files. */
    private void checkEcSharing() {
        Map<String, Integer> encoderHostsPerMachine = new HashMap<>();
        List<String> twoMachines = new ArrayList<>(); // the first encoder hosts on two different machines
        Set<String> encoderHosts = new LinkedHashSet<>();
        for (int i : nodeIndices()) {
            Host host = host(node(i).host());
            if (node(i).role() == Role.ENCODER && host != null && encoderHosts.add(node(i).host())) {
                encoderHostsPerMachine.merge(host.machine(), 1, Integer::sum);
                if (twoMachines.size() < 2 && (twoMachines.isEmpty() || !host(twoMachines.get(0)).machine().equals(host.machine()))) {
                    twoMachines.add(node(i).host());
                }
            }
        }
        Set<String> warned = new HashSet<>();
        // Every host of a consumer over several hosts reads the EC files: its ranks there take requests too.
        for (int i : nodeIndices()) {
          Node node = node(i);
          for (Node.RankHost share : node.rankHosts()) {
            Host host = host(share.host());
            if (node.role().ecRole() == null || node.role() == Role.ENCODER || host == null || !warned.add(share.host())) {
                continue;
            }
            int elsewhere = encoderHosts.size() - encoderHostsPerMachine.getOrDefault(host.machine(), 0);
            if (elsewhere == 0) {
                continue;
            }
            String encoderHost = twoMachines.stream().filter(name -> !host(name).machine().equals(host.machine()))
                    .findFirst().orElseThrow();
            warning(nodePath(i) + ".host", "encoders on host '" + encoderHost + "'"
                    + (elsewhere > 1 ? " (and on " + (elsewhere - 1) + " more hosts)" : "") + " and " + describe(i) + " on '"
                    + share.host() + "' must see " + t.ecTransfer().sharedStoragePath() + " as one shared mount "
                    + "(a consumer that misses the encoder's files silently encodes again); "
                    + "`epdctl check` verifies it");
          }
        }
    }

    /** Whether prefill or decode nodes are present: {@link Topology#isDisaggregated} for a draft. */
    private boolean hasKvNodes() {
        return nodeIndices().stream().anyMatch(i -> node(i).role().kvRole() != null);
    }

    private void checkKvTransfer() {
        boolean disaggregated = hasKvNodes();
        if (t.kvTransfer() == null) {
            if (disaggregated && !sources.contains("kv-transfer")) {
                error("kv-transfer", "missing required key 'kv-transfer': prefill and decode nodes hand over the KV "
                        + "cache through it");
            }
            return;
        }
        if (!disaggregated) {
            warning("kv-transfer", "ignored: there are no prefill or decode nodes");
            return;
        }
        if (!t.kvTransfer().knownConnector()) {
            warning("kv-transfer.connector", "epdctl knows the flows and ports of " + KvTransfer.LAYERWISE_CONNECTOR
                    + " (push: decode nodes call the proxy's metaserver back) and " + KvTransfer.PULL_CONNECTOR
                    + " (pull: the prefiller answers first); " + t.kvTransfer().connector() + " is treated as "
                    + "layerwise and may not work behind the proxy");
        }
        for (String side : List.of("prefill", "decode")) {
            if (t.kvTransfer().extraConfig().containsKey(side)) {
                error("kv-transfer.extra-config." + side, "derived from the " + side + " nodes' parallel sizes; remove it");
            }
        }
    }

    /**
     * An upstream proxy serves only some layouts, and drives one KV flow: a layout or a known connector it cannot
     * serve is an error at {@code proxy.kind} (or {@code proxy.script}, when the kind comes from its file name)
     * that names the proxies that can.
     */
    private void checkProxyKind() {
        ProxySpec proxy = t.proxy();
        if (proxy == null || proxy.kind() == null || t.nodes().contains(null)) {
            return;
        }
        ProxyKind kind = proxy.kind();
        String path = sources.contains("proxy.kind") ? "proxy.kind" : "proxy.script";
        ProxyKind.Layout layout = ProxyKind.Layout.of(!t.nodes(Role.ENCODER).isEmpty(), !t.nodes(Role.PD).isEmpty(),
                !t.nodes(Role.PREFILL).isEmpty() || !t.nodes(Role.DECODE).isEmpty());
        if (layout == ProxyKind.Layout.OTHER) {
            return; // checkRoles says what is wrong with the roles
        }
        if (!kind.serves(layout)) {
            List<ProxyKind> serving = ProxyKind.serving(layout);
            error(path, "the " + kind.describe() + " proxy does not serve " + layout.label() + " deployments; "
                    + "use proxy.kind " + serving.stream().map(ProxyKind::describe)
                            .collect(Collectors.joining(" or "))
                    + (layout == ProxyKind.Layout.P_D ? "" : ", or the built-in proxy (no script)"));
            return;
        }
        KvTransfer kv = t.kvTransfer();
        if (layout != ProxyKind.Layout.E_PD && kv != null && kv.knownConnector() && kv.flow() != kind.kvFlow()) {
            List<ProxyKind> fitting = ProxyKind.serving(layout).stream().filter(other -> other.kvFlow() == kv.flow()).toList();
            error(path, "the " + kind.describe() + " proxy drives " + kind.kvConnector() + " ("
                    + (kind.prefillFirst() ? "prefill first, the decode node pulls" : "decode first, the prefill node pushes")
                    + "), not kv-transfer.connector " + kv.connector() + "; " + (fitting.isEmpty()
                            ? "set kv-transfer.connector " + kind.kvConnector()
                            : "use proxy.kind " + fitting.stream().map(ProxyKind::describe).collect(Collectors.joining(" or "))
                                    + ", or kv-transfer.connector " + kind.kvConnector()));
        }
    }

    /** Addresses are used across hosts: the proxy calls every node, decode nodes call the proxy back. */
    private void checkReachability() {
        for (Map.Entry<String, Host> entry : t.hosts().entrySet()) {
            if (entry.getValue() != null && Addresses.isWildcard(entry.getValue().address())) {
                error("hosts." + entry.getKey() + ".address", entry.getValue().address()
                        + " is a wildcard, not an address other hosts or epdctl can reach; give the host's address");
            } else if (entry.getValue() != null && entry.getValue().address().contains(":")
                    && !Addresses.isLoopback(entry.getValue().address())) {
                warning("hosts." + entry.getKey() + ".address", entry.getValue().address() + " is an IPv6 address: Mooncake's "
                        + "transfer engine fails on IPv6 (vllm-ascend issue 4103); give the host's IPv4 address");
            }
        }
        // The other hosts' ranks connect to the first host's address (--data-parallel-address).
        for (int i : nodeIndices()) {
            Node node = node(i);
            Host first = host(node.host());
            if (!node.spansHosts() || first == null || !Addresses.isLoopback(first.address())) {
                continue;
            }
            for (int j = 1; j < node.rankHosts().size(); j++) {
                Host other = host(node.rankHosts().get(j).host());
                if (other != null && !other.machine().equals(first.machine())) {
                    error(nodePath(i) + ".hosts[0].host", describe(i) + " runs its first ranks on host '" + node.host()
                            + "' whose address " + first.address() + " is loopback, but its ranks on host '"
                            + node.rankHosts().get(j).host() + "' must connect to it there; give host '" + node.host()
                            + "' an address the other hosts reach");
                    break;
                }
            }
        }
        if (kvFlow() == KvFlow.PULL) {
            checkPrefillersReachable();
        }
        ProxySpec proxy = t.proxy();
        Host proxyHost = proxy == null ? null : host(proxy.host());
        if (proxyHost == null) {
            return;
        }
        for (int i : nodeIndices()) {
            Node node = node(i);
            Host host = host(node.host());
            if (host == null || host.machine().equals(proxyHost.machine())) {
                continue;
            }
            if (Addresses.isLoopback(host.address())) {
                error(nodePath(i) + ".host", describe(i) + " is on host '" + node.host() + "' whose address "
                        + host.address() + " is loopback, but the proxy runs on '" + proxy.host()
                        + "' and cannot reach it there; give host '" + node.host() + "' an address the other hosts reach");
            }
            // only the layerwise flow calls the proxy back (a layerwise connector behind a prefill-first script is an error)
            if (node.role() == Role.DECODE && kvFlow() == KvFlow.LAYERWISE && Addresses.isLoopback(proxyHost.address())) {
                error("proxy.host", "the proxy listens on " + proxyHost.address() + " (host '" + proxy.host()
                        + "'), but decode node " + describe(i) + " on host '" + node.host() + "' must call its metaserver "
                        + "back at that address; give host '" + proxy.host() + "' an address the other hosts reach");
            }
        }
    }

    /**
     * Pull mode: a decoder connects to the host its prefiller advertises (the prefill host's address), so a
     * prefill node on a loopback address cannot serve a decode node on another machine. Once per prefill node.
     */
    private void checkPrefillersReachable() {
        for (int i : nodeIndices()) {
            Host host = host(node(i).host());
            if (node(i).role() != Role.PREFILL || host == null || !Addresses.isLoopback(host.address())) {
                continue;
            }
            for (int j : nodeIndices()) {
                Host decodeHost = host(node(j).host());
                if (node(j).role() == Role.DECODE && decodeHost != null && !decodeHost.machine().equals(host.machine())) {
                    error(nodePath(i) + ".host", describe(i) + " is on host '" + node(i).host() + "' whose address "
                            + host.address() + " is loopback, but decode node " + describe(j) + " on host '"
                            + node(j).host() + "' pulls the KV cache from that address (" + KvTransfer.PULL_CONNECTOR
                            + "); give host '" + node(i).host() + "' an address the other hosts reach");
                    break;
                }
            }
        }
    }

    private void checkDerivedSettings() {
        checkDerivedFlags("vllm.args", t.vllm().args());
        checkDerivedEnv("vllm.env", t.vllm().env());
        for (int i : nodeIndices()) {
            checkDerivedFlags(nodePath(i) + ".args", node(i).args());
            checkDerivedEnv(nodePath(i) + ".env", node(i).env());
        }
        if (t.proxy() != null) {
            for (Map.Entry<String, ArgValue> arg : t.proxy().args().entrySet()) {
                String flag = arg.getKey();
                String path = "proxy.args." + flag;
                if (DERIVED_PROXY_FLAGS.contains(flag)) {
                    error(path, "epdctl derives --" + flag + " from the topology; remove it here");
                } else if (t.proxy().isBuiltIn()) {
                    // the script's flags vary with its version, the built-in proxy's are known
                    ProxyTuning.Flag.of(flag).ifPresentOrElse(
                            tuning -> tuning.problem(arg.getValue()).ifPresent(problem -> error(path, problem)),
                            () -> error(path, "the built-in proxy has no flag --" + flag
                                    + Suggestions.hint(flag, ProxyTuning.Flag.flags())));
                }
            }
        }
    }

    private void checkDerivedFlags(String path, Map<String, ArgValue> args) {
        for (String flag : args.keySet()) {
            String source = DERIVED_FLAGS.get(flag);
            if (source != null) {
                error(path + "." + flag, "epdctl derives --" + flag + " from " + source + "; remove it here");
            }
        }
    }

    private void checkDerivedEnv(String path, Map<String, String> env) {
        if (env.containsKey(Node.DEVICES_VARIABLE)) {
            error(path + "." + Node.DEVICES_VARIABLE, "epdctl sets " + Node.DEVICES_VARIABLE + " from the node's devices; "
                    + "remove it here");
        }
    }

    private void checkUnusedHosts() {
        Set<String> used = new LinkedHashSet<>();
        nodeIndices().forEach(i -> node(i).rankHosts().forEach(share -> used.add(share.host())));
        if (t.proxy() != null) {
            used.add(t.proxy().host());
        }
        boolean nodesBroken = t.nodes().contains(null);
        for (String host : t.hosts().keySet()) {
            if (!used.contains(host) && !nodesBroken) {
                warning("hosts." + host, "host '" + host + "' runs no node and no proxy");
            }
        }
    }
}
