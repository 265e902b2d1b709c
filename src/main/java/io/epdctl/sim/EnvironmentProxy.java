package io.epdctl.sim;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Routes the metaserver callback through {@code http_proxy} / {@code HTTP_PROXY} / {@code all_proxy} unless
 * {@code no_proxy} exempts the host, as httpx (which the real connector uses) does by default. This is why
 * the guide unsets the proxy variables: a callback sent to a corporate proxy never reaches the EPD proxy.
 */
final class EnvironmentProxy extends ProxySelector {
    private final Proxy proxy;
    private final List<String> exempt;

    private EnvironmentProxy(Proxy proxy, List<String> exempt) {
        this.proxy = proxy;
        this.exempt = exempt;
    }

    /** The selector for {@code env}, or {@link java.net.http.HttpClient.Builder#NO_PROXY} when none is set. */
    static ProxySelector from(Map<String, String> env) {
        String url = first(env, "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY");
        if (url == null) {
            return java.net.http.HttpClient.Builder.NO_PROXY;
        }
        URI uri = URI.create(url.contains("://") ? url : "http://" + url);
        if (uri.getHost() == null) {
            throw new IllegalArgumentException("http_proxy '" + url + "' names no host");
        }
        Proxy proxy = new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved(uri.getHost(),
                uri.getPort() > 0 ? uri.getPort() : 80));
        String noProxy = first(env, "no_proxy", "NO_PROXY");
        List<String> exempt = noProxy == null ? List.of() : Arrays.stream(noProxy.split(","))
                .map(entry -> entry.strip().toLowerCase(Locale.ROOT)).filter(entry -> !entry.isEmpty()).toList();
        return new EnvironmentProxy(proxy, exempt);
    }

    private static String first(Map<String, String> env, String... names) {
        for (String name : names) {
            String value = env.get(name);
            if (value != null && !value.isBlank()) {
                return value.strip();
            }
        }
        return null;
    }

    @Override
    public List<Proxy> select(URI uri) {
        String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT);
        boolean isExempt = exempt.stream().anyMatch(entry -> entry.equals("*") || host.equals(entry)
                || host.endsWith(entry.startsWith(".") ? entry : "." + entry));
        return List.of(isExempt ? Proxy.NO_PROXY : proxy);
    }

    @Override
    public void connectFailed(URI uri, SocketAddress address, IOException failure) {
        // reported by the request itself
    }
}
