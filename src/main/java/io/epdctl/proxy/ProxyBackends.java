package io.epdctl.proxy;

import io.epdctl.topology.Role;
import io.epdctl.topology.Topology;
import java.util.ArrayList;
import java.util.List;

/**
 * The nodes behind the proxy, per role. Either {@code pd} or both {@code prefill} and {@code decode} are
 * non-empty; encoders are optional, as in the vLLM-Ascend script.
 */
public record ProxyBackends(List<Endpoint> encoders, List<Endpoint> pd, List<Endpoint> prefill, List<Endpoint> decode) {
    public ProxyBackends {
        encoders = List.copyOf(encoders);
        pd = List.copyOf(pd);
        prefill = List.copyOf(prefill);
        decode = List.copyOf(decode);
    }

    /** The backends a topology describes: its nodes, in file order, as the renderer gives them to the script. */
    public static ProxyBackends of(Topology topology) {
        return new ProxyBackends(endpoints(topology, Role.ENCODER), endpoints(topology, Role.PD),
                endpoints(topology, Role.PREFILL), endpoints(topology, Role.DECODE));
    }

    /** E, then P and D with the KV hand-off (rather than E then PD). */
    public boolean disaggregated() {
        return pd.isEmpty();
    }

    public List<Endpoint> of(Role role) {
        return switch (role) {
            case ENCODER -> encoders;
            case PD -> pd;
            case PREFILL -> prefill;
            case DECODE -> decode;
        };
    }

    /** What is wrong with them, one message per problem; empty when the proxy can route to them. */
    List<String> problems() {
        List<String> problems = new ArrayList<>();
        if (!pd.isEmpty() && (!prefill.isEmpty() || !decode.isEmpty())) {
            problems.add("give either --pd-hosts/--pd-ports or --prefiller-*/--decoder-*, not both");
        } else if (pd.isEmpty() && (prefill.isEmpty() || decode.isEmpty())) {
            problems.add("no PD backends and no prefiller and decoder pair: give --pd-hosts/--pd-ports,"
                    + " or --prefiller-hosts/--prefiller-ports and --decoder-hosts/--decoder-ports");
        }
        for (Role role : Role.values()) {
            for (Endpoint backend : of(role)) {
                if (backend.port() < 1 || backend.port() > 65535) {
                    problems.add(role.yamlName() + " backend " + backend + ": the port must be between 1 and 65535");
                }
            }
        }
        return problems;
    }

    private static List<Endpoint> endpoints(Topology topology, Role role) {
        return topology.nodes(role).stream().flatMap(node -> topology.footprint(node).serving().stream())
                .map(placement -> new Endpoint(topology.hosts().get(placement.host()).address(), placement.httpPort()))
                .toList();
    }
}
