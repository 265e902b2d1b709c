package io.epdctl.sim;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.SimNode;
import io.epdctl.testing.SystemTest;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * vllm-sim's data parallelism across hosts, as epdctl depends on it: the head node is ready only when every rank has
 * joined, a headless process serves no HTTP and waits for its head node, and either side ends when the other dies.
 */
@SystemTest
class SimDataParallelTest {
    @TempDir
    Path dir;

    private static List<String> group(int size, int local, int rpcPort) {
        return List.of("--data-parallel-size", String.valueOf(size), "--data-parallel-size-local", String.valueOf(local),
                "--data-parallel-address", "127.0.0.1", "--data-parallel-rpc-port", String.valueOf(rpcPort));
    }

    private SimNode head(int rpcPort) {
        return SimNode.builder(dir).name("head").flags(group(2, 1, rpcPort)).launch();
    }

    private SimNode headless(String name, int size, int rpcPort) {
        return SimNode.builder(dir).name(name).flags(group(size, 1, rpcPort))
                .flags("--headless", "--data-parallel-start-rank", "1").launch();
    }

    @Test
    void theHeadNodeOpensHttpOnlyOnceEveryRankJoinedAndExitsWhenOneDies() throws Exception {
        int rpc = SimNode.freePort();
        try (SimNode head = head(rpc)) {
            awaitLog(head, "Waiting for 1 data parallel engine(s) of other nodes to connect to tcp://127.0.0.1:" + rpc);
            Thread.sleep(300);
            assertThat(listens(head.port())).as("no HTTP before its rank joined").isFalse();
            try (SimNode rank = headless("rank1", 2, rpc)) {
                head.awaitReady();
                assertThat(head.log()).contains("Data parallel ranks 1-1 joined from");
                assertThat(rank.log()).contains("Data parallel ranks 1-1 joined the head node at 127.0.0.1:" + rpc);
                assertThat(listens(rank.port())).as("a headless process serves no HTTP").isFalse();
                assertThat(rank.process().isAlive()).isTrue();

                assertThat(rank.descendantsSeen()).as("its engine child, killed by close() with it").isNotEmpty();
                rank.process().destroyForcibly();

                assertThat(head.awaitExit(Duration.ofSeconds(20))).isEqualTo(1);
                assertThat(head.log()).contains("data parallel group broken", "EngineDeadError");
            }
        }
    }

    @Test
    void aHeadlessProcessWaitsForItsHeadNodeAndEndsWithIt() throws Exception {
        int rpc = SimNode.freePort();
        try (SimNode rank = headless("rank1", 2, rpc)) {
            awaitLog(rank, "waiting for the head node at 127.0.0.1:" + rpc);
            Thread.sleep(500);
            assertThat(rank.process().isAlive()).as("it keeps trying").isTrue();
            try (SimNode head = head(rpc)) {
                head.awaitReady();

                assertThat(head.descendantsSeen()).as("its engine child, killed by close() with it").isNotEmpty();
                head.process().destroyForcibly();

                assertThat(rank.awaitExit(Duration.ofSeconds(20))).isEqualTo(1);
                assertThat(rank.log()).contains("went away; data parallel ranks 1-1 shut down");
            }
        }
    }

    @Test
    void theHeadNodeRefusesAProcessOfAnotherGroup() throws Exception {
        int rpc = SimNode.freePort();
        try (SimNode head = head(rpc); SimNode stranger = headless("stranger", 3, rpc)) {
            assertThat(stranger.awaitExit(Duration.ofSeconds(20))).isEqualTo(1);
            assertThat(stranger.log()).contains("the head node refused data parallel ranks 1-1: error --data-parallel-size 3 there, 2 here");
            assertThat(head.process().isAlive()).as("still waiting for its own rank").isTrue();
            assertThat(head.log()).contains("refused the engines of");
        }
    }

    @Test
    void externalRanksEachServeHttpOnceTheyFormedTheGroupAndEndTogether() throws Exception {
        int rpc = SimNode.freePort();
        List<String> group = List.of("--data-parallel-size", "2", "--data-parallel-address", "127.0.0.1",
                "--data-parallel-rpc-port", String.valueOf(rpc));
        try (SimNode one = SimNode.builder(dir).name("rank1").flags(group).flags("--data-parallel-rank", "1").launch()) {
            awaitLog(one, "waiting for the head node at 127.0.0.1:" + rpc);
            assertThat(listens(one.port())).as("no HTTP before it joined rank 0").isFalse();
            try (SimNode zero = SimNode.builder(dir).name("rank0").flags(group).flags("--data-parallel-rank", "0").launch()) {
                zero.awaitReady();
                one.awaitReady();
                assertThat(zero.log()).contains("Data parallel ranks 1-1 joined from");

                assertThat(zero.descendantsSeen()).isNotEmpty();
                zero.process().destroyForcibly();

                assertThat(one.awaitExit(Duration.ofSeconds(20))).isEqualTo(1);
                assertThat(one.log()).contains("data parallel group broken", "went away");
            }
        }
    }

    @Test
    void aHeadlessProcessWithEveryRankIsRefusedAtStart() {
        try (SimNode alone = SimNode.builder(dir).name("alone").flags("--headless", "--data-parallel-size", "2").launch()) {
            assertThat(alone.awaitExit(Duration.ofSeconds(20))).isEqualTo(1);
            assertThat(alone.log()).contains("ValueError: a headless process with every data parallel rank has no head node to join");
        }
    }

    private static boolean listens(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static void awaitLog(SimNode node, String text) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!node.log().contains(text)) {
            assertThat(node.process().isAlive()).as(node.log()).isTrue();
            assertThat(System.nanoTime()).as("'" + text + "' in " + node.log()).isLessThan(deadline);
            Thread.sleep(50);
        }
    }
}
