package io.epdctl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.proxy.Endpoint;
import io.epdctl.proxy.ProxyConfig;
import io.epdctl.render.DeploymentRenderer;
import io.epdctl.render.LaunchSpec;
import io.epdctl.testing.Cli;
import io.epdctl.testing.SimNode;
import io.epdctl.testing.SystemTest;
import io.epdctl.topology.KvFlow;
import io.epdctl.topology.ProxyTuning;
import io.epdctl.topology.TopologyLoader;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code epdctl proxy}: the script's arguments as epdctl renders them, a topology file, bad input, a real run. */
class ProxyCommandTest {
    @TempDir
    Path dir;

    /** The arguments the renderer gives the proxy of a topology, after the program (script or epdctl proxy). */
    static final String PULL_TOPOLOGY = "src/test/resources/io/epdctl/topology/pull-1e2p1d.yaml";

    private static List<String> renderedProxyArguments(String topology) {
        LaunchSpec proxy = new DeploymentRenderer(TopologyLoader.load(Path.of(topology)).topologyOrNull()).render().proxy();
        List<String> argv = proxy.argv();
        return argv.subList(argv.indexOf("--host"), argv.size());
    }

    private static ProxyConfig parse(List<String> arguments) {
        ProxyCommand command = new ProxyCommand();
        new CommandLine(command).parseArgs(arguments.toArray(String[]::new));
        return command.config();
    }

    @Test
    void takesTheScriptsArgumentsAsRenderedForTheGuidesDisaggregatedTopology() {
        List<String> arguments = renderedProxyArguments("topologies/1e1p1d.yaml");
        assertThat(arguments).containsExactly("--host", "127.0.0.1", "--port", "8001", "--encoder-hosts", "127.0.0.1",
                "--encoder-ports", "23001", "--prefiller-hosts", "127.0.0.1", "--prefiller-ports", "33003",
                "--decoder-hosts", "127.0.0.1", "--decoder-ports", "33006");

        ProxyConfig config = parse(arguments);

        assertThat(config.listen()).isEqualTo(new Endpoint("127.0.0.1", 8001));
        assertThat(config.backends().encoders()).containsExactly(new Endpoint("127.0.0.1", 23001));
        assertThat(config.backends().prefill()).containsExactly(new Endpoint("127.0.0.1", 33003));
        assertThat(config.backends().decode()).containsExactly(new Endpoint("127.0.0.1", 33006));
        assertThat(config.backends().pd()).isEmpty();
        assertThat(config.backends().disaggregated()).isTrue();
        assertThat(config.tuning().maxRetries()).isEqualTo(3);
        assertThat(config.tuning().retryDelay()).isEqualTo(Duration.ofMillis(1));
    }

    @Test
    void takesTheScriptsArgumentsAsRenderedForTheGuidesPdTopology() {
        ProxyConfig config = parse(renderedProxyArguments("topologies/1e1pd.yaml"));

        assertThat(config.backends().encoders()).containsExactly(new Endpoint("127.0.0.1", 23001));
        assertThat(config.backends().pd()).containsExactly(new Endpoint("127.0.0.1", 33003));
        assertThat(config.backends().disaggregated()).isFalse();
    }

    @Test
    void listsTakeSeveralValuesAfterOneFlagAndRetriesCanBeSet() {
        ProxyConfig config = parse(List.of("--host", "10.0.0.1", "--port", "9000", "--encoder-hosts", "10.0.0.2",
                "10.0.0.3", "--encoder-ports", "1", "2", "--pd-hosts", "10.0.0.4", "--pd-ports", "3",
                "--max-retries", "5", "--retry-delay", "0.25"));

        assertThat(config.backends().encoders()).containsExactly(new Endpoint("10.0.0.2", 1), new Endpoint("10.0.0.3", 2));
        assertThat(config.tuning().maxRetries()).isEqualTo(5);
        assertThat(config.tuning().retryDelay()).isEqualTo(Duration.ofMillis(250));
    }

    @Test
    void aPullModeTopologyRendersKvFlowPullWhichTheProxyTakes() {
        List<String> arguments = renderedProxyArguments(PULL_TOPOLOGY);
        assertThat(String.join(" ", arguments)).endsWith("--prefiller-hosts 192.0.2.9 192.0.2.9 --prefiller-ports 33003 33004"
                + " --decoder-hosts 192.0.2.10 --decoder-ports 33006 --kv-flow pull");

        assertThat(parse(arguments).kvFlow()).isEqualTo(KvFlow.PULL);
        assertThat(parse(List.of("-f", PULL_TOPOLOGY)).kvFlow()).isEqualTo(KvFlow.PULL);
        assertThat(parse(renderedProxyArguments("topologies/1e1p1d.yaml")).kvFlow()).as("the default")
                .isEqualTo(KvFlow.LAYERWISE);
        assertThat(renderedProxyArguments("topologies/demo-local.yaml")).doesNotContain("--kv-flow");
        assertThat(parse(List.of("--prefiller-hosts", "a", "--prefiller-ports", "1", "--decoder-hosts", "b",
                "--decoder-ports", "2", "--kv-flow", "layerwise")).kvFlow()).isEqualTo(KvFlow.LAYERWISE);
    }

    @Test
    void aTopologyFileGivesTheSameConfigurationAsTheRenderedArguments() {
        for (String topology : List.of("topologies/1e1p1d.yaml", "topologies/1e1pd.yaml", "topologies/demo-local.yaml",
                PULL_TOPOLOGY)) {
            ProxyConfig fromFile = parse(List.of("-f", topology));
            ProxyConfig fromArguments = parse(renderedProxyArguments(topology));

            assertThat(fromFile).as(topology).isEqualTo(fromArguments);
        }
    }

    @Test
    void theTopologysProxyArgsTuneTheBuiltInProxyWithFOrRendered() throws Exception {
        Path topology = dir.resolve("tuned.yaml");
        Files.writeString(topology, Files.readString(Path.of("topologies/demo-local.yaml"))
                .replace("command: ../bin/epdctl", "command: " + Path.of("bin/epdctl").toAbsolutePath()
                        + "\n  args: {max-retries: 5, retry-delay: 0.25, backend-timeout: 30, health-interval: 5, event-loops: 3,"
                        + " encoder-dispatch-mode: fanout}"));

        ProxyConfig fromFile = parse(List.of("-f", topology.toString()));

        assertThat(fromFile).isEqualTo(parse(renderedProxyArguments(topology.toString())));
        assertThat(fromFile.tuning().maxRetries()).isEqualTo(5);
        assertThat(fromFile.tuning().retryDelay()).isEqualTo(Duration.ofMillis(250));
        assertThat(fromFile.tuning().backendTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(fromFile.tuning().healthInterval()).isEqualTo(Duration.ofSeconds(5));
        assertThat(fromFile.tuning().eventLoops()).isEqualTo(3);
        assertThat(fromFile.tuning().encoderDispatch()).isEqualTo(ProxyTuning.EncoderDispatch.FANOUT);
        assertThat(parse(List.of("-f", topology.toString(), "--backend-timeout", "0")).tuning().backendTimeout()).isZero();
    }

    @Test
    void badArgumentsSayWhatIsWrongAndExitWith2() throws Exception {
        Cli.Result mismatch = Cli.run("proxy", "--encoder-hosts", "a", "b", "--encoder-ports", "1",
                "--pd-hosts", "c", "--pd-ports", "2");
        Cli.Result noBackends = Cli.run("proxy", "--encoder-hosts", "a", "--encoder-ports", "1");
        Cli.Result mixed = Cli.run("proxy", "--pd-hosts", "a", "--pd-ports", "1", "--decoder-hosts", "b",
                "--decoder-ports", "2");
        Cli.Result fileAndHosts = Cli.run("proxy", "-f", "topologies/1e1pd.yaml", "--host", "1.2.3.4");
        Cli.Result badPort = Cli.run("proxy", "--pd-hosts", "a", "--pd-ports", "70000");
        Path broken = Files.writeString(dir.resolve("broken.yaml"), "name: x\nnodes: 3\n");
        Cli.Result badFile = Cli.run("proxy", "-f", broken.toString());
        Cli.Result badTuning = Cli.run("proxy", "--pd-hosts", "a", "--pd-ports", "1", "--max-retries", "0");
        Cli.Result fileAndFlow = Cli.run("proxy", "-f", "topologies/1e1p1d.yaml", "--kv-flow", "pull");
        Cli.Result badFlow = Cli.run("proxy", "--prefiller-hosts", "a", "--prefiller-ports", "1", "--decoder-hosts", "b",
                "--decoder-ports", "2", "--kv-flow", "push");

        assertThat(mismatch.exitCode()).isEqualTo(2);
        assertThat(mismatch.err()).contains("2 --encoder-hosts but 1 --encoder-ports");
        assertThat(noBackends.exitCode()).isEqualTo(2);
        assertThat(noBackends.err()).contains("no PD backends and no prefiller and decoder pair");
        assertThat(mixed.exitCode()).isEqualTo(2);
        assertThat(mixed.err()).contains("either --pd-hosts/--pd-ports or --prefiller-*/--decoder-*");
        assertThat(fileAndHosts.exitCode()).isEqualTo(2);
        assertThat(fileAndHosts.err()).contains("-f takes the address, the backends and the KV flow from the topology");
        assertThat(fileAndFlow.exitCode()).isEqualTo(2);
        assertThat(fileAndFlow.err()).contains("drop --host, --port, --*-hosts/--*-ports and --kv-flow");
        assertThat(badFlow.exitCode()).isEqualTo(2);
        assertThat(badFlow.err()).contains("--kv-flow", "expected one of layerwise, pull but was 'push'");
        assertThat(badPort.exitCode()).isEqualTo(2);
        assertThat(badPort.err()).contains("pd backend a:70000: the port must be between 1 and 65535");
        assertThat(badFile.exitCode()).isEqualTo(2);
        assertThat(badFile.err()).contains(broken + ":", "the proxy was not started");
        assertThat(badTuning.exitCode()).isEqualTo(2);
        assertThat(badTuning.err()).contains("proxy: --max-retries: expected a whole number of at least 1, got 0");
        for (Cli.Result result : List.of(mismatch, noBackends, mixed, fileAndHosts, badPort, badFile, badTuning,
                fileAndFlow, badFlow)) {
            assertThat(result.err()).doesNotContain("Exception", "\tat ");
        }
    }

    @Test
    @SystemTest
    void runsInTheForegroundUntilSigtermThenStopsCleanly(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        int port = SimNode.freePort();
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.epdctl.cli.Main", "proxy", "--host", "127.0.0.1",
                "--port", String.valueOf(port), "--pd-hosts", "127.0.0.1", "--pd-ports", String.valueOf(SimNode.freePort())));
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        Path controlFile = dir.resolve("proxy.control");
        try (BufferedReader output = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String ready = output.readLine();
            assertThat(ready).startsWith("epdctl proxy: ");
            List<String> before = new ArrayList<>();
            while (ready != null && !ready.contains("ready on")) {
                before.add(ready);
                ready = output.readLine();
            }
            // the control channel's port and token are in a file in the working directory, the token nowhere else
            assertThat(before).anyMatch(line -> line.matches("epdctl proxy: control channel on 127\\.0\\.0\\.1:\\d+ \\(its port"
                    + " and token in " + java.util.regex.Pattern.quote(controlFile.toString()) + "\\)"));
            String token = io.epdctl.proxy.ControlFile.parse(java.nio.file.Files.readString(controlFile)).token();
            assertThat(String.join("\n", before)).doesNotContain(token);
            assertThat(ready).isEqualTo("epdctl proxy: ready on http://127.0.0.1:" + port
                    + " (0 encoder, 1 pd backends; metaserver http://127.0.0.1:" + port + "/v1/metaserver)");

            HttpResponse<String> health = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/health")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).as("its only backend is not running").isEqualTo(503);

            process.toHandle().destroy(); // SIGTERM
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
            List<String> rest = output.lines().toList();
            assertThat(rest).contains("epdctl proxy: stopping", "epdctl proxy: stopped");
            assertThat(String.join("\n", rest)).doesNotContain(token);
            assertThat(controlFile).as("removed when the proxy stops").doesNotExist();
            assertThat(process.exitValue()).isEqualTo(143);
        } finally {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        assertThat(process.isAlive()).isFalse();
    }
}
