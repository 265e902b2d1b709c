package io.epdctl.render;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.ArrayList;
import java.util.List;

/**
 * The launch of every node and of the proxy, as derived from one topology. {@code proxyIdentity} is the built-in
 * proxy's launch without its backend lists (null for the upstream script proxy): what identifies it, since its
 * backends change while it runs (through its control channel) and a change of them alone must not restart it.
 */
public record RenderedDeployment(String deployment, List<LaunchSpec> nodes, LaunchSpec proxy,
        @JsonIgnore LaunchSpec proxyIdentity) {
    /** The nodes, then the proxy. */
    public List<LaunchSpec> all() {
        List<LaunchSpec> all = new ArrayList<>(nodes);
        all.add(proxy);
        return all;
    }
}
