package io.epdctl.topology;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * How a request's KV cache gets from its prefill instance to its decode instance, which decides the order the
 * proxy calls them in and which side listens for the other.
 *
 * <ul>
 *   <li>{@link #LAYERWISE} (MooncakeLayerwiseConnector, push): the decoder first, with the proxy's metaserver URL;
 *       it calls the metaserver back, and the proxy has a prefiller compute the request and push its KV, layer by
 *       layer, to the decoder's ZMQ ports. The decode side binds.</li>
 *   <li>{@link #PULL} (MooncakeConnectorV1): the prefiller first, with {@code do_remote_decode: true}; its answer
 *       carries {@code kv_transfer_params} naming its host, handshake port and blocks, which go with the request to
 *       a decoder, which pulls the KV from there. The prefill side binds (its ZMQ handshake sockets).</li>
 * </ul>
 */
public enum KvFlow {
    LAYERWISE("layerwise", Role.DECODE),
    PULL("pull", Role.PREFILL);

    /** The built-in proxy's option that names the flow; without it, {@link #LAYERWISE}. */
    public static final String OPTION = "--kv-flow";

    private final String flag;
    private final Role bindingRole;

    KvFlow(String flag, Role bindingRole) {
        this.flag = flag;
        this.bindingRole = bindingRole;
    }

    /** The value of the built-in proxy's {@code --kv-flow}. */
    public String flag() {
        return flag;
    }

    /** The side whose instances listen on {@code [kv_port, kv_port + tp * dp)}; the other side connects. */
    public Role bindingRole() {
        return bindingRole;
    }

    public static Optional<KvFlow> ofFlag(String value) {
        return Arrays.stream(values()).filter(flow -> flow.flag.equals(value)).findFirst();
    }

    public static List<String> flags() {
        return Arrays.stream(values()).map(KvFlow::flag).toList();
    }
}
