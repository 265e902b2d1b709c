package io.epdctl.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.InternetProtocolFamily;
import io.netty.channel.socket.nio.NioChannelOption;
import io.vertx.core.datagram.DatagramSocketOptions;
import io.vertx.core.net.TcpConfig;
import io.vertx.core.spi.transport.Transport;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.util.concurrent.ThreadFactory;

/**
 * Vert.x's NIO transport, with SO_REUSEPORT on every listening socket, so that a new proxy can listen on
 * the port of the one it replaces before that one stops (the kernel then spreads new connections over
 * both, and only the new one's once the old one has closed its socket). Vert.x sets SO_REUSEPORT only
 * with its native transports, whose Linux library is not to be had here for the Netty version of Vert.x's
 * BOM; the JDK sets it on NIO sockets itself. Linux lets only sockets of the same user share a port.
 */
final class ReusePortTransport implements io.vertx.core.transport.Transport {
    static final ReusePortTransport INSTANCE = new ReusePortTransport();
    private static final Transport NIO = io.vertx.core.transport.Transport.NIO.implementation();
    private final Transport implementation = new Listeners();

    private ReusePortTransport() {
    }

    @Override
    public String name() {
        return "nio+reuseport";
    }

    @Override
    public boolean available() {
        return StandardSocketOptions.SO_REUSEPORT != null;
    }

    @Override
    public Throwable unavailabilityCause() {
        return null;
    }

    @Override
    public Transport implementation() {
        return implementation;
    }

    /** NIO's, but for the one option on servers. */
    private static final class Listeners implements Transport {
        @Override
        public boolean supportsDomainSockets() {
            return NIO.supportsDomainSockets();
        }

        @Override
        public boolean supportFileRegion() {
            return NIO.supportFileRegion();
        }

        @Override
        public SocketAddress convert(io.vertx.core.net.SocketAddress address) {
            return NIO.convert(address);
        }

        @Override
        public io.vertx.core.net.SocketAddress convert(SocketAddress address) {
            return NIO.convert(address);
        }

        @Override
        public IoHandlerFactory ioHandlerFactory() {
            return NIO.ioHandlerFactory();
        }

        @Override
        public EventLoopGroup eventLoopGroup(int type, int threads, ThreadFactory threadFactory, int ioRatio) {
            return NIO.eventLoopGroup(type, threads, threadFactory, ioRatio);
        }

        @Override
        public DatagramChannel datagramChannel(InternetProtocolFamily family) {
            return NIO.datagramChannel(family);
        }

        @Override
        public ChannelFactory<? extends DatagramChannel> datagramChannelFactory() {
            return NIO.datagramChannelFactory();
        }

        @Override
        public ChannelFactory<? extends Channel> channelFactory(boolean domainSocket) {
            return NIO.channelFactory(domainSocket);
        }

        @Override
        public ChannelFactory<? extends ServerChannel> serverChannelFactory(boolean domainSocket) {
            return NIO.serverChannelFactory(domainSocket);
        }

        @Override
        public void configure(DatagramChannel channel, DatagramSocketOptions options) {
            NIO.configure(channel, options);
        }

        @Override
        public void configure(TcpConfig config, boolean domainSocket, Bootstrap bootstrap) {
            NIO.configure(config, domainSocket, bootstrap);
        }

        @Override
        public void configure(TcpConfig config, boolean domainSocket, ServerBootstrap bootstrap) {
            NIO.configure(config, domainSocket, bootstrap);
            if (!domainSocket) {
                bootstrap.option(NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT), true);
            }
        }
    }
}
