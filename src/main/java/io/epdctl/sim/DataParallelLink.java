package io.epdctl.sim;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * vLLM's internal data parallelism across hosts, as far as epdctl depends on it. The first host's {@code vllm serve}
 * (the API server) listens on {@code --data-parallel-rpc-port} at {@code --data-parallel-address} for the engines of
 * the other hosts ({@code --headless}), and opens its HTTP port only once every rank has joined, so that it is ready
 * only then. A headless process serves no HTTP: it connects to that port (trying again until the first host listens,
 * as a ZMQ connect does) and runs until the group ends. When a rank's process dies, the engines of the group fail
 * (their collectives have a dead peer): the first host's process exits with EngineDeadError, and the headless ones
 * exit when their connection to it ends. That is what makes the group restart as one under epdctl's supervisors.
 *
 * <p>The wire protocol is the simulator's own (one line each way): {@code rank START LOCAL SIZE}, answered {@code ok}
 * or {@code error MESSAGE}.
 */
final class DataParallelLink {
    private static final long RETRY_MILLIS = 200;

    private DataParallelLink() {
    }

    /** The first host's side: the ranks of the other hosts, joined; {@link #watch} ends the process when one leaves. */
    static final class Leader implements Closeable {
        private final ServerSocket server;
        private final List<Socket> ranks;

        private Leader(ServerSocket server, List<Socket> ranks) {
            this.server = server;
            this.ranks = ranks;
        }

        /** Calls {@code lost} (once per connection, from its own thread) with what ended it. */
        void watch(java.util.function.Consumer<String> lost) {
            for (Socket rank : ranks) {
                Thread thread = new Thread(() -> {
                    try {
                        while (rank.getInputStream().read() >= 0) {
                            // nothing more is sent; a read returning -1 or failing is the rank's end
                        }
                        lost.accept("the engines of " + rank.getRemoteSocketAddress() + " closed their connection");
                    } catch (IOException e) {
                        if (!rank.isClosed()) {
                            lost.accept("the connection to the engines of " + rank.getRemoteSocketAddress() + " failed: " + e.getMessage());
                        }
                    }
                }, "dp-rank-watch");
                thread.setDaemon(true);
                thread.start();
            }
        }

        @Override
        public void close() {
            for (Socket rank : ranks) {
                try {
                    rank.close();
                } catch (IOException e) {
                    // closing anyway
                }
            }
            try {
                server.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }

    /**
     * Listens on the RPC port and waits until the ranks this process does not run have all joined, refusing a
     * process whose ranks or group size do not fit. Fails after {@code timeoutMillis} (vLLM's
     * VLLM_ENGINE_READY_TIMEOUT_S) or when the port is taken.
     */
    static Leader awaitRanks(ServeArgs args, SimLog log, long timeoutMillis) throws StartupFailure {
        int size = args.dataParallelSize();
        BitSet joined = new BitSet(size);
        joined.set(0, args.dataParallelSizeLocal());
        InetSocketAddress address = new InetSocketAddress(args.dataParallelAddress().orElse("0.0.0.0"), args.dataParallelRpcPort());
        ServerSocket server;
        try {
            server = new ServerSocket();
            server.setReuseAddress(true);
            server.bind(address, 64);
        } catch (IOException e) {
            throw new StartupFailure("zmq.error.ZMQError: Address already in use (addr='tcp://" + address.getHostString() + ":"
                    + address.getPort() + "')");
        }
        log.info("core_client.py", "Waiting for " + (size - args.dataParallelSizeLocal()) + " data parallel engine(s) of other "
                + "nodes to connect to tcp://" + address.getHostString() + ":" + address.getPort());
        List<Socket> ranks = new ArrayList<>();
        long deadline = System.currentTimeMillis() + timeoutMillis;
        try {
            while (joined.cardinality() < size) {
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) {
                    throw new SocketTimeoutException();
                }
                server.setSoTimeout((int) Math.min(left, Integer.MAX_VALUE));
                Socket socket = server.accept();
                socket.setSoTimeout(10_000);
                String hello = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII)).readLine();
                String refusal = refusal(hello, size, joined);
                OutputStream out = socket.getOutputStream();
                if (refusal != null) {
                    out.write(("error " + refusal + "\n").getBytes(StandardCharsets.US_ASCII));
                    socket.close();
                    log.warning("core_client.py", "refused the engines of " + socket.getRemoteSocketAddress() + ": " + refusal);
                    continue;
                }
                String[] parts = hello.split(" ");
                int start = Integer.parseInt(parts[1]);
                int local = Integer.parseInt(parts[2]);
                joined.set(start, start + local);
                out.write("ok\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                socket.setSoTimeout(0);
                ranks.add(socket);
                log.info("core_client.py", "Data parallel ranks " + start + "-" + (start + local - 1) + " joined from "
                        + socket.getRemoteSocketAddress() + " (" + joined.cardinality() + " of " + size + ")");
            }
        } catch (SocketTimeoutException e) {
            new Leader(server, ranks).close();
            throw new StartupFailure("TimeoutError: Timed out waiting for engines to send initial message on input socket: "
                    + joined.cardinality() + " of " + size + " data parallel ranks joined");
        } catch (IOException e) {
            new Leader(server, ranks).close();
            throw new StartupFailure("RuntimeError: data parallel handshake failed: " + e.getMessage());
        }
        return new Leader(server, ranks);
    }

    /** Why a joining process does not fit the group, or null when it does. */
    static String refusal(String hello, int size, BitSet joined) {
        String[] parts = hello == null ? new String[0] : hello.split(" ");
        if (parts.length != 4 || !parts[0].equals("rank")) {
            return "not a data parallel engine: '" + hello + "'";
        }
        int start;
        int local;
        int theirs;
        try {
            start = Integer.parseInt(parts[1]);
            local = Integer.parseInt(parts[2]);
            theirs = Integer.parseInt(parts[3]);
        } catch (NumberFormatException e) {
            return "not a data parallel engine: '" + hello + "'";
        }
        if (theirs != size) {
            return "--data-parallel-size " + theirs + " there, " + size + " here";
        }
        if (start < 0 || local < 1 || start + local > size) {
            return "ranks " + start + "-" + (start + local - 1) + " are outside 0-" + (size - 1);
        }
        if (joined.get(start, start + local).cardinality() > 0) {
            return "ranks " + start + "-" + (start + local - 1) + " overlap ranks that joined already";
        }
        return null;
    }

    /** A process's place in its group, joined at the first rank's process: read until it ends. */
    record Joined(Socket socket, BufferedReader in, String describe) {
        /** Blocks until the first rank's process goes (or the connection fails). */
        void awaitEnd() {
            try {
                while (in.read() >= 0) {
                    // the head node sends nothing more; its end is the group's
                }
            } catch (IOException e) {
                // the same: the connection is gone
            }
        }
    }

    /**
     * Joins the group at the first rank's process, trying again until it listens (as a ZMQ connect does); null when it
     * refused this process (logged).
     */
    static Joined join(ServeArgs args, SimLog log) throws InterruptedException {
        String address = args.dataParallelAddress().orElse("127.0.0.1");
        int port = args.dataParallelRpcPort();
        int start = args.dataParallelStartRank();
        int local = args.dataParallelSizeLocal();
        String ranks = "data parallel ranks " + start + "-" + (start + local - 1);
        long waiting = 0;
        while (true) {
            Socket socket = new Socket();
            try {
                socket.connect(new InetSocketAddress(address, port), 2000);
                OutputStream out = socket.getOutputStream();
                out.write(("rank " + start + " " + local + " " + args.dataParallelSize() + "\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
                String answer = in.readLine();
                if (answer == null || !answer.equals("ok")) {
                    log.error("core.py", "the head node refused " + ranks + ": " + (answer == null ? "connection closed" : answer));
                    socket.close();
                    return null;
                }
                log.info("core.py", "Data parallel ranks " + start + "-" + (start + local - 1) + " joined the head node at " + address + ":" + port);
                return new Joined(socket, in, "the head node at " + address + ":" + port + " went away; " + ranks + " shut down");
            } catch (IOException e) {
                try {
                    socket.close();
                } catch (IOException closing) {
                    // not connected
                }
                if (waiting % 25 == 0) {
                    log.info("core.py", "waiting for the head node at " + address + ":" + port + " (" + e.getMessage() + ")");
                }
                waiting++;
            }
            Thread.sleep(RETRY_MILLIS);
        }
    }

    /**
     * A headless process: joins the group at the first host and runs until it ends. Returns the exit status: 1 when the
     * first host's process went away or refused it (the group failed), never while the group runs.
     */
    static int runHeadless(ServeArgs args, SimLog log) {
        log.info("serve.py", "Launching " + args.dataParallelSizeLocal() + " data parallel engine(s) in headless mode, with head "
                + "node address tcp://" + args.dataParallelAddress().orElse("127.0.0.1") + ":" + args.dataParallelRpcPort() + ".");
        try {
            Joined joined = join(args, log);
            if (joined == null) {
                return 1;
            }
            joined.awaitEnd();
            log.error("core.py", "EngineDeadError: " + joined.describe());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }
}
