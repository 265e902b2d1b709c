package io.epdctl.proxy;

import io.epdctl.topology.Footprint;
import io.epdctl.topology.KvFlow;
import io.epdctl.topology.ProxyTuning;
import io.epdctl.topology.Topology;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * What the built-in proxy needs: where it listens (also the host decoders call back at the
 * metaserver), its backends per role, its tuning, and the KV flow between its prefillers and decoders
 * (which side it calls first).
 */
public record ProxyConfig(Endpoint listen, ProxyBackends backends, ProxyTuning tuning, KvFlow kvFlow) {

    /** The layerwise flow, the vLLM-Ascend EPD script's. */
    public ProxyConfig(Endpoint listen, ProxyBackends backends, ProxyTuning tuning) {
        this(listen, backends, tuning, KvFlow.LAYERWISE);
    }

    /** What is wrong with this configuration, one message per problem; empty when it can run. */
    public List<String> problems() {
        List<String> problems = new ArrayList<>(backends.problems());
        if (listen.port() < 0 || listen.port() > 65535) {
            problems.add("--port must be between 0 and 65535, got " + listen.port());
        }
        return problems;
    }

    /**
     * The proxy a topology describes: the same backends, in file order, as the renderer gives the script,
     * tuned by its {@code proxy.args} and then by {@code overrides} (a flag given on the command line wins).
     */
    public static ProxyConfig fromTopology(Topology topology, Map<ProxyTuning.Flag, String> overrides) {
        String address = topology.hosts().get(topology.proxy().host()).address();
        Map<ProxyTuning.Flag, String> tuning = new EnumMap<>(ProxyTuning.Flag.class);
        tuning.putAll(ProxyTuning.in(topology.proxy().args()));
        tuning.putAll(overrides);
        int port = Footprint.ofProxy(topology.proxy()).placement().httpPort();
        KvFlow flow = topology.kvTransfer() == null ? KvFlow.LAYERWISE : topology.kvTransfer().flow();
        return new ProxyConfig(new Endpoint(address, port), ProxyBackends.of(topology),
                ProxyTuning.of(tuning), flow);
    }
}
