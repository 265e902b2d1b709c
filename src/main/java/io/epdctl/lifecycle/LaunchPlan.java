package io.epdctl.lifecycle;

import io.epdctl.render.LaunchSpec;
import io.epdctl.render.RenderedDeployment;
import io.epdctl.render.ScriptTemplates;
import io.epdctl.state.ProcessRecord;
import io.epdctl.topology.Node;
import io.epdctl.topology.Role;
import io.epdctl.topology.Topology;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.IntStream;

/**
 * What {@code up} would start: for every node and the proxy, its rendered script and the record it will
 * have in the state, before it has a pid. The record's hash covers everything that defines the process,
 * so comparing hashes tells which nodes changed since the last {@code up}.
 */
public record LaunchPlan(List<Launch> nodes, Launch proxy) {

    /** One process to start: its record (pid 0 until started) and its script. */
    public record Launch(ProcessRecord record, String script) {
        public String name() {
            return record.name();
        }
    }

    /**
     * {@code directories} maps each host to where the scripts and logs live there; see
     * {@link RunDirectories}.
     */
    public static LaunchPlan of(Topology topology, RenderedDeployment rendered, ScriptTemplates templates,
            RunDirectories directories) {
        List<Launch> nodes = new ArrayList<>();
        for (int i = 0; i < rendered.nodes().size(); i++) {
            Node node = topology.nodes().get(i);
            nodes.add(launch(rendered.deployment(), rendered.nodes().get(i), kvPorts(topology, node), templates, directories));
        }
        return new LaunchPlan(nodes, launch(rendered.deployment(), rendered.proxy(), List.of(), templates, directories));
    }

    public List<Launch> all() {
        List<Launch> all = new ArrayList<>(nodes);
        all.add(proxy);
        return all;
    }

    private static Launch launch(String deployment, LaunchSpec spec, List<Integer> extraPorts, ScriptTemplates templates,
            RunDirectories directories) {
        String script = templates.script(deployment, spec);
        String directory = directories.on(spec.host());
        String hash = sha256(spec.host() + "\n" + spec.address() + "\n" + directory + "\n" + script);
        ProcessRecord record = new ProcessRecord(spec.name(), spec.role(), spec.host(), spec.address(), spec.port(),
                spec.devices(), extraPorts, 0, "", null, directory, hash);
        return new Launch(record, script);
    }

    /** A decode node also listens on its Mooncake KV ports, one per rank. */
    static List<Integer> kvPorts(Topology topology, Node node) {
        if (node.role() != Role.DECODE) {
            return List.of();
        }
        int base = topology.kvPortOf(node);
        return IntStream.range(base, base + node.ranks()).boxed().toList();
    }

    private static String sha256(String text) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
