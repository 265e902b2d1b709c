package io.epdctl.lifecycle;

import io.epdctl.render.LaunchSpec;
import io.epdctl.render.RenderedDeployment;
import io.epdctl.render.ScriptTemplates;
import io.epdctl.state.ContainerRecord;
import io.epdctl.state.ProcessRecord;
import io.epdctl.state.ProcessSpec;
import io.epdctl.topology.Listener;
import io.epdctl.topology.Placement;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What {@code up} would start: for every node and the proxy, its rendered script and the record it will
 * have in the state, before it has a pid. The record's hash covers everything that defines the process,
 * so comparing hashes tells which nodes changed since the last {@code up}.
 */
public record LaunchPlan(List<Launch> nodes, Launch proxy, boolean liveProxy) {

    /** A plan whose proxy cannot be reconfigured while it runs (the upstream script proxy). */
    public LaunchPlan(List<Launch> nodes, Launch proxy) {
        this(nodes, proxy, false);
    }

    /**
     * One process to start: its record (pid 0 until started), its script, its {@link Supervisor} script, and the address whose interface
     * the script looks up on its host (see {@link LaunchSpec#interfaceAddress()}).
     */
    public record Launch(ProcessRecord record, String script, String supervisor, Optional<String> interfaceAddress) {
        public String name() {
            return record.name();
        }
    }

    /**
     * {@code directories} maps each host to where the scripts and logs live there; see
     * {@link RunDirectories}. Each launch's ports and NPUs are the ones its spec was rendered with. The built-in
     * proxy's hash leaves out its backends ({@link RenderedDeployment#proxyIdentity()}): a change of them alone is a
     * live reconfiguration, not a restart ({@link #liveProxy()}).
     */
    public static LaunchPlan of(RenderedDeployment rendered, ScriptTemplates templates, RunDirectories directories) {
        List<Launch> nodes = rendered.nodes().stream()
                .map(spec -> launch(rendered.deployment(), spec, spec, templates, directories))
                .toList();
        LaunchSpec identity = rendered.proxyIdentity() == null ? rendered.proxy() : rendered.proxyIdentity();
        return new LaunchPlan(nodes, launch(rendered.deployment(), rendered.proxy(), identity, templates, directories),
                rendered.proxyIdentity() != null);
    }

    public List<Launch> all() {
        List<Launch> all = new ArrayList<>(nodes);
        all.add(proxy);
        return all;
    }

    /** {@code identity} is what the hash covers: {@code spec} itself, or for the built-in proxy it without its backends. */
    private static Launch launch(String deployment, LaunchSpec spec, LaunchSpec identity, ScriptTemplates templates,
            RunDirectories directories) {
        String script = templates.script(deployment, spec);
        String directory = directories.on(spec.host());
        // The supervisor (and so its restart policy) is part of what runs: a changed policy starts the node anew.
        String supervisor = Supervisor.script(spec.name(), spec.restart());
        String hash = sha256(spec.host() + "\n" + spec.address() + "\n" + directory + "\n"
                + (identity == spec ? script : templates.script(deployment, identity)) + "\n" + supervisor);
        ProcessRecord record = new ProcessRecord(spec.name(), spec.role(), spec.host(), spec.address(), spec.port(),
                spec.devices(), otherPorts(spec.placement()), 0, "", null, directory, hash, parts(spec, directory),
                spec.container() == null ? null : new ContainerRecord(spec.container().command(), spec.container().name(), deployment),
                spec.readiness(), spec.group(),
                spec.placement().listener(Listener.Kind.DP_RPC).map(Listener::first).orElse(null));
        return new Launch(record, script, supervisor, spec.interfaceAddress());
    }

    /**
     * The parts of the spec the state keeps for {@link UpPlan} to diff: no secret value in them (masked in argv
     * and setup; of env the names, with a hash of each value, but none for a secret's: a short secret could be
     * found again from its hash. A changed secret still changes the record's hash, and the plan says so).
     */
    static ProcessSpec parts(LaunchSpec spec, String directory) {
        Secrets secrets = Secrets.byName();
        Map<String, String> env = new LinkedHashMap<>();
        spec.env().forEach((name, value) -> env.put(name,
                Secrets.isSecretName(name) ? Secrets.MASK : sha256(name + "=" + value).substring(0, 16)));
        return new ProcessSpec(secrets.argv(spec.argv()), env, spec.setup().stream().map(secrets::text).toList(),
                spec.devices(), spec.host(), spec.address(), directory,
                spec.container() == null ? null : spec.container().image());
    }

    /** Every port but the HTTP one: the KV ports of a node of the side that binds (see Footprint), one per rank; the data-parallel RPC port. */
    private static List<Integer> otherPorts(Placement placement) {
        return placement.listeners().stream()
                .filter(listener -> listener.kind() != Listener.Kind.HTTP)
                .flatMap(listener -> listener.ports().stream())
                .toList();
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
