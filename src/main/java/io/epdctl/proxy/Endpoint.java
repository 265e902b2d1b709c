package io.epdctl.proxy;

/** A backend's (or the proxy's own) HTTP address. */
public record Endpoint(String host, int port) {
    /** {@code host:port}, with brackets around an IPv6 literal, as in a URL. */
    public String authority() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    @Override
    public String toString() {
        return authority();
    }
}
