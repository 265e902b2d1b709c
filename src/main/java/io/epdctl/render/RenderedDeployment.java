package io.epdctl.render;

import java.util.ArrayList;
import java.util.List;

/** The launch of every node and of the proxy, as derived from one topology. */
public record RenderedDeployment(String deployment, List<LaunchSpec> nodes, LaunchSpec proxy) {
    /** The nodes, then the proxy. */
    public List<LaunchSpec> all() {
        List<LaunchSpec> all = new ArrayList<>(nodes);
        all.add(proxy);
        return all;
    }
}
