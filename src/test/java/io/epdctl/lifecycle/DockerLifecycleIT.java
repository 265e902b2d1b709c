package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.render.ContainerLaunch;
import io.epdctl.testing.Cli;
import io.epdctl.testing.Docker;
import io.epdctl.testing.FreePorts;
import io.epdctl.testing.ProcessTable;
import io.epdctl.testing.SshServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nodes of {@code runtime: docker} in the real Docker daemon of this machine, started, probed and stopped by epdctl:
 * vllm-sim runs inside containers of an image imported without a registry, given stand-in device files of its NPUs.
 * Every test checks docker ps -a and the process table, not only the state; and removes what is left even when it fails.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class DockerLifecycleIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path ROOT = Path.of("").toAbsolutePath();
    private static final List<Integer> NPUS = List.of(1001, 1002, 1003);

    @TempDir
    static Path shared;

    private static Docker docker;

    @TempDir
    Path dir;

    private final List<Deployment> deployments = new ArrayList<>();

    @BeforeAll
    static void buildTheImage() throws Exception {
        docker = Docker.start(shared);
        docker.devices(ContainerLaunch.deviceFiles(NPUS));
    }

    @AfterAll
    static void removeTheImage() throws Exception {
        if (docker != null) {
            docker.close();
        }
    }

    @AfterEach
    void nothingIsLeft() throws Exception {
        List<String> left = new ArrayList<>();
        for (Deployment deployment : deployments) {
            left.addAll(Docker.containers(deployment.name));
            Docker.removeContainers(deployment.name);
            Cli.run("down", deployment.name, "--grace", "2s", "--state-dir", deployment.stateDir());
            ProcessTable.killAll(io.epdctl.testing.SimDeployment.MARKER, deployment.marker);
        }
        assertThat(left).as("containers left by the test (removed now)").isEmpty();
    }

    /** A topology of E, P and D nodes; {@code hosts} per node, {@code box} being the host whose nodes run in containers. */
    private final class Deployment {
        final String name = "t-" + UUID.randomUUID().toString().substring(0, 8);
        final String marker = UUID.randomUUID().toString();
        final Map<String, Integer> ports = new LinkedHashMap<>();
        Path file;

        final List<String> connection = new ArrayList<>();

        Deployment(Map<String, String> nodeHosts, Map<String, String> nodeEnv) throws Exception {
            this(nodeHosts, nodeEnv, "{address: 127.0.0.1, runtime: docker}");
        }

        /** {@code box} is the YAML of the host whose nodes run in containers. */
        Deployment(Map<String, String> nodeHosts, Map<String, String> nodeEnv, String box) throws Exception {
            deployments.add(this);
            int kv = FreePorts.pickBelow(20000);
            int kvDecode = FreePorts.pickBelow(20000);
            StringBuilder yaml = new StringBuilder()
                    .append("name: ").append(name).append('\n')
                    .append("model: sim/model\nserved-model-name: simvl\n")
                    .append("hosts:\n  local: {address: 127.0.0.1}\n  box: ").append(box).append('\n')
                    .append("vllm:\n  command: ").append(ROOT.resolve("bin/vllm-sim")).append('\n')
                    .append("  image: ").append(docker.image()).append('\n')
                    .append("  docker: {args: ").append(docker.args()).append("}\n")
                    .append("  env: {").append(io.epdctl.testing.SimDeployment.MARKER).append(": ").append(marker)
                    .append(", VLLM_SIM_STARTUP_DELAY_MS: '300'}\n")
                    .append("ec-transfer: {shared-storage-path: ").append(dir.resolve("ec")).append("}\n")
                    .append("kv-transfer: {kv-port: ").append(kv).append("}\n")
                    .append("nodes:\n");
            String[][] nodes = {{"e0", "encoder"}, {"p0", "prefill"}, {"d0", "decode"}};
            for (int i = 0; i < nodes.length; i++) {
                String node = nodes[i][0];
                int port = FreePorts.pick();
                ports.put(node, port);
                yaml.append("  - {name: ").append(node).append(", role: ").append(nodes[i][1]).append(", host: ")
                        .append(nodeHosts.get(node)).append(", devices: [").append(NPUS.get(i)).append("], port: ").append(port);
                if (node.equals("d0")) {
                    // restart: never, so that a container killed behind epdctl's back stays exited; e0 heals.
                    yaml.append(", kv-port: ").append(kvDecode).append(", restart: never");
                }
                if (nodeEnv.containsKey(node)) {
                    yaml.append(", env: {").append(nodeEnv.get(node)).append('}');
                }
                yaml.append("}\n");
            }
            int proxy = FreePorts.pick();
            ports.put("proxy", proxy);
            yaml.append("proxy: {host: local, port: ").append(proxy).append(", command: ").append(ROOT.resolve("bin/epdctl"))
                    .append(", env: {").append(io.epdctl.testing.SimDeployment.MARKER).append(": ").append(marker).append("}}\n");
            file = dir.resolve(name + ".yaml");
            Files.writeString(file, yaml);
        }

        String stateDir() {
            return dir.resolve("state").toString();
        }

        Path runDir() {
            return dir.resolve("state").resolve(name).resolve("run");
        }

        Cli.Result epdctl(String... args) {
            List<String> all = new ArrayList<>(List.of(args));
            all.addAll(List.of("--state-dir", stateDir()));
            all.addAll(connection);
            return Cli.run(all.toArray(String[]::new));
        }

        Cli.Result up(String... extra) {
            List<String> all = new ArrayList<>(List.of("up", file.toString(), "--timeout", "2m"));
            all.addAll(List.of(extra));
            return epdctl(all.toArray(String[]::new));
        }

        List<Long> processesLeft() throws InterruptedException {
            return ProcessTable.awaitGone(() -> ProcessTable.withEnvironment(io.epdctl.testing.SimDeployment.MARKER, marker).stream()
                    .flatMap(pid -> ProcessHandle.of(pid).stream()).toList()).stream().map(ProcessHandle::pid).toList();
        }

        String metrics(String node) throws Exception {
            return get("http://127.0.0.1:" + ports.get(node) + "/metrics");
        }

        String container(String node) {
            return ContainerLaunch.containerName(name, node);
        }
    }

    private static String get(String url) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        return response.body();
    }

    private static HttpResponse<String> chatWithImage(int proxyPort) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxyPort + "/v1/chat/completions"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(SmokeRequest.chatBody("simvl"))).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static double counter(String metrics, String name) {
        return metrics.lines().filter(line -> line.startsWith(name)).mapToDouble(line -> Double.parseDouble(line.substring(
                line.lastIndexOf(' ') + 1))).sum();
    }

    @Test
    void containersServeThroughEveryRoleAndStatusLogsAKilledContainerAndDownWork() throws Exception {
        Deployment deployment = new Deployment(Map.of("e0", "box", "p0", "box", "d0", "box"), Map.of());

        Cli.Result up = deployment.up();

        assertThat(up.exitCode()).as(up.toString()).isZero();
        assertThat(up.err()).contains("e0: ready", "p0: ready", "d0: ready", "proxy: ready", "test request through the proxy");
        for (String node : List.of("e0", "p0", "d0")) {
            Docker.Result inspect = Docker.run("docker", "inspect", "-f",
                    "{{.State.Status}} {{index .Config.Labels \"io.epdctl.node\"}} {{.HostConfig.NetworkMode}}", deployment.container(node));
            assertThat(inspect.output().strip()).as(node).isEqualTo("running " + node + " host");
        }
        HttpResponse<String> chat = chatWithImage(deployment.ports.get("proxy"));
        assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
        assertThat(JSON.readTree(chat.body()).at("/choices/0/message/content").asText()).isNotBlank();
        Cli.Result again = deployment.up();
        assertThat(again.exitCode()).as(again.toString()).isZero();
        assertThat(again.err()).contains("is up and unchanged; nothing to do");
        // The encoder's container wrote the embeddings into the shared directory; the prefill's read them there.
        assertThat(counter(deployment.metrics("e0"), "vllm_sim:ec_cache_saves_total")).isGreaterThanOrEqualTo(2);
        assertThat(counter(deployment.metrics("p0"), "vllm_sim:ec_cache_hits_total")).isGreaterThanOrEqualTo(2);
        assertThat(counter(deployment.metrics("p0"), "vllm_sim:ec_cache_misses_total")).isZero();
        assertThat(Files.list(dir.resolve("ec")).count()).as("embedding files on the host").isPositive();
        // The KV cache went from the prefill's container to the decode's over the host network.
        Cli.Result decodeLog = deployment.epdctl("logs", "d0", "-n", "500");
        assertThat(decodeLog.exitCode()).as(decodeLog.toString()).isZero();
        assertThat(decodeLog.out()).contains("Application startup complete.", "Received KV of");
        assertThat(deployment.epdctl("logs", "p0", "-n", "500").out()).contains("Pushed KV of");

        JsonNode rows = JSON.readTree(deployment.epdctl("status", "--json").out()).path("processes");
        assertThat(rows).hasSize(4);
        rows.forEach(row -> assertThat(row.path("state").asText()).as(row.toString()).isEqualTo("ready"));
        for (JsonNode row : rows) {
            if (!row.path("role").asText().equals("proxy")) {
                assertThat(row.path("container").asText()).as(row.toString()).matches("[0-9a-f]{12} running");
            } else {
                assertThat(row.path("container").isNull()).as(row.toString()).isTrue();
            }
        }

        Cli.Result describe = deployment.epdctl("describe", "e0");
        assertThat(describe.exitCode()).as(describe.toString()).isZero();
        assertThat(describe.out()).contains(deployment.container("e0"), docker.image(), "--ec-transfer-config");

        // collect runs each script's setup to ask the command's version: no container may be touched by it.
        Cli.Result collect = deployment.epdctl("collect", "-o", dir.resolve("bundle.tar.gz").toString());
        assertThat(collect.exitCode()).as(collect.toString()).isZero();
        for (String node : List.of("e0", "p0", "d0")) {
            assertThat(Docker.run("docker", "inspect", "-f", "{{.State.Status}}", deployment.container(node)).output().strip())
                    .as(node + " after collect").isEqualTo("running");
        }

        // Killed behind epdctl's back: the node shows as exited, with the container's status.
        Docker.Result kill = Docker.run("docker", "kill", deployment.container("d0"));
        assertThat(kill.code()).as(kill.output()).isZero();
        String d0 = "";
        for (int i = 0; i < 100 && !d0.contains("exited with status 137"); i++) {
            Thread.sleep(100);
            Cli.Result status = deployment.epdctl("status", "-o", "wide");
            d0 = status.out().lines().filter(line -> line.startsWith("d0 ")).findFirst().orElse("");
        }
        assertThat(d0).contains("exited", "exited with status 137", "container ").containsPattern("[0-9a-f]{12} exited \\(137\\)");

        // With the default restart policy, a killed container is started again by the node's supervisor.
        String before = Docker.run("docker", "inspect", "-f", "{{.Id}}", deployment.container("e0")).output().strip();
        assertThat(Docker.run("docker", "kill", deployment.container("e0")).code()).isZero();
        JsonNode e0 = null;
        for (int i = 0; i < 300; i++) {
            Thread.sleep(100);
            Cli.Result status = deployment.epdctl("status", "-o", "json");
            for (JsonNode row : JSON.readTree(status.out()).path("processes")) {
                if (row.path("name").asText().equals("e0")) {
                    e0 = row;
                }
            }
            if (e0 != null && e0.path("state").asText().equals("ready") && e0.path("restarts").asInt() == 1) {
                break;
            }
        }
        assertThat(e0).isNotNull();
        assertThat(e0.path("state").asText()).as(e0.toString()).isEqualTo("ready");
        assertThat(e0.path("restarts").asInt()).as(e0.toString()).isEqualTo(1);
        assertThat(e0.path("lastExit").path("status").asInt()).as(e0.toString()).isEqualTo(137);
        assertThat(Docker.run("docker", "inspect", "-f", "{{.Id}}", deployment.container("e0")).output().strip())
                .as("e0's container after the restart").isNotEqualTo(before);

        Cli.Result down = deployment.epdctl("down");
        assertThat(down.exitCode()).as(down.toString()).isZero();
        assertThat(down.err()).contains("e0: stopped by SIGTERM", "d0: had already exited with status 137", "is down");
        assertThat(Docker.containers(deployment.name)).as("docker ps -a").isEmpty();
        assertThat(deployment.processesLeft()).isEmpty();
        // The script stopped its container itself when down sent it SIGTERM.
        assertThat(Files.readString(deployment.runDir().resolve("e0.log")))
                .contains("epdctl: stopping container " + deployment.container("e0") + " (docker stop -t 20, then rm)");
    }

    @Test
    void downRemovesAContainerWhoseScriptWasKilledAndAnyOtherOfTheDeployment() throws Exception {
        Deployment deployment = new Deployment(Map.of("e0", "box", "p0", "box", "d0", "box"), Map.of());
        Cli.Result up = deployment.up();
        assertThat(up.exitCode()).as(up.toString()).isZero();

        // SIGKILL to the node's whole process group: no trap runs, the container is left running.
        long group = Long.parseLong(Files.readString(deployment.runDir().resolve("p0.pid")).strip());
        assertThat(Docker.run("kill", "-KILL", "--", "-" + group).code()).isZero();
        assertThat(ProcessTable.awaitGone(group)).isEmpty();
        assertThat(Docker.run("docker", "inspect", "-f", "{{.State.Status}}", deployment.container("p0")).output().strip())
                .isEqualTo("running");
        // One of a node the state no longer lists (an earlier up of another topology, interrupted): found by its label.
        Docker.Result stray = Docker.run("docker", "run", "-d", "--name", deployment.container("old"), "--label",
                "io.epdctl.deployment=" + deployment.name, "--label", "io.epdctl.node=old", "-v", "/usr:/usr:ro", docker.image(),
                "/usr/bin/sleep", "300");
        assertThat(stray.code()).as(stray.output()).isZero();
        assertThat(Docker.containers(deployment.name)).hasSize(4);

        Cli.Result down = deployment.epdctl("down");

        assertThat(down.exitCode()).as(down.toString()).isZero();
        assertThat(Docker.containers(deployment.name)).as("docker ps -a").isEmpty();
        assertThat(deployment.processesLeft()).isEmpty();
    }

    @Test
    void aContainerThatExitsWhileLoadingIsReportedAtOnceWithItsLog() throws Exception {
        Deployment deployment = new Deployment(Map.of("e0", "box", "p0", "box", "d0", "box"),
                Map.of("p0", "VLLM_SIM_CRASH_ON_STARTUP: '1'"));

        long start = System.nanoTime();
        Cli.Result up = deployment.up();
        long seconds = (System.nanoTime() - start) / 1_000_000_000L;

        assertThat(up.exitCode()).as(up.toString()).isEqualTo(1);
        assertThat(up.err()).contains("p0").contains("NPU out of memory while loading the model").contains("exited with status");
        assertThat(seconds).as("well before the 2 min timeout").isLessThan(100);
        assertThat(Docker.containers(deployment.name)).as("docker ps -a after the failed up").isEmpty();
        assertThat(deployment.processesLeft()).isEmpty();
    }

    @Test
    void aMixedDeploymentRunsSomeNodesInContainersAndOthersAsProcesses() throws Exception {
        Deployment deployment = new Deployment(Map.of("e0", "box", "p0", "local", "d0", "box"), Map.of());

        Cli.Result up = deployment.up();

        assertThat(up.exitCode()).as(up.toString()).isZero();
        assertThat(Docker.run("docker", "inspect", "-f", "{{.State.Status}}", deployment.container("e0")).output().strip()).isEqualTo("running");
        assertThat(Docker.run("docker", "inspect", deployment.container("p0")).code()).as("p0 runs as a process").isNotZero();
        assertThat(chatWithImage(deployment.ports.get("proxy")).statusCode()).isEqualTo(200);
        assertThat(counter(deployment.metrics("p0"), "vllm_sim:ec_cache_hits_total")).isGreaterThanOrEqualTo(1);
        JsonNode rows = JSON.readTree(deployment.epdctl("status", "--json").out()).path("processes");
        for (JsonNode row : rows) {
            assertThat(row.path("container").isNull()).as(row.toString()).isEqualTo(!row.path("name").asText().matches("e0|d0"));
        }

        Cli.Result down = deployment.epdctl("down");
        assertThat(down.exitCode()).as(down.toString()).isZero();
        assertThat(Docker.containers(deployment.name)).isEmpty();
        assertThat(deployment.processesLeft()).isEmpty();
    }

    @Test
    void upPullFailingStartsNothing() throws Exception {
        Deployment deployment = new Deployment(Map.of("e0", "box", "p0", "local", "d0", "local"), Map.of());
        String missingImage = Docker.PREFIX + "absent-" + UUID.randomUUID().toString().substring(0, 8) + ":1";
        Files.writeString(deployment.file, Files.readString(deployment.file)
                .replace("  image: " + docker.image() + "\n", "  image: " + missingImage + "\n"));

        Cli.Result up = deployment.up("--pull");

        assertThat(up.exitCode()).as(up.toString()).isEqualTo(1);
        assertThat(up.err()).contains("pulling " + missingImage + " on box", "box: docker pull " + missingImage + " failed",
                "nothing was started");
        assertThat(up.err()).doesNotContain("started on");
        assertThat(Docker.containers(deployment.name)).isEmpty();
        assertThat(deployment.processesLeft()).isEmpty();
    }

    @Test
    void checkReportsAMissingDeviceFileAndAMissingImage() throws Exception {
        Deployment deployment = new Deployment(Map.of("e0", "box", "p0", "box", "d0", "box"), Map.of());
        String missingImage = Docker.PREFIX + "absent-" + UUID.randomUUID().toString().substring(0, 8) + ":1";
        Files.writeString(deployment.file, Files.readString(deployment.file)
                .replace("devices: [1003]", "devices: [1017]")
                .replace("  image: " + docker.image() + "\n", "  image: " + missingImage + "\n"));

        Cli.Result check = Cli.run("check", deployment.file.toString());

        assertThat(check.exitCode()).as(check.toString()).isEqualTo(1);
        assertThat(check.out() + check.err()).contains("d0: /dev/davinci1017 is not on this host")
                .contains(missingImage + " is not on this host: docker pull " + missingImage + ", or epdctl up --pull")
                .doesNotContain("/dev/davinci1001 is not");
        assertThat(Docker.containers(deployment.name)).isEmpty();
    }

    @Test
    void containersOnAHostReachedOverSsh() throws Exception {
        try (SshServer box = SshServer.start("127.0.0.2")) {
            String yaml = SshLifecycleIT.yaml(box);
            Deployment deployment = new Deployment(Map.of("e0", "box", "p0", "box", "d0", "box"), Map.of(),
                    yaml.substring(0, yaml.length() - 1) + ", runtime: docker}");
            deployment.connection.addAll(List.of("--known-hosts", SshLifecycleIT.knownHosts(dir.resolve("known_hosts"), box).toString()));

            Cli.Result up = deployment.up("--remote-dir", dir.resolve("remote").toString());

            assertThat(up.exitCode()).as(up.toString()).isZero();
            assertThat(up.err()).contains("e0: started on box", "d0: ready");
            assertThat(chatWithImage(deployment.ports.get("proxy")).statusCode()).isEqualTo(200);
            JsonNode rows = JSON.readTree(deployment.epdctl("status", "--json").out()).path("processes");
            for (JsonNode row : rows) {
                if (!row.path("role").asText().equals("proxy")) {
                    assertThat(row.path("container").asText()).as(row.toString()).matches("[0-9a-f]{12} running");
                }
            }
            assertThat(deployment.epdctl("logs", "p0", "-n", "500").out()).contains("Application startup complete.", "Pushed KV of");

            Cli.Result down = deployment.epdctl("down");

            assertThat(down.exitCode()).as(down.toString()).isZero();
            assertThat(Docker.containers(deployment.name)).as("docker ps -a").isEmpty();
            assertThat(deployment.processesLeft()).isEmpty();
            box.awaitNoSessions();
            assertThat(ProcessTable.describe(box.sessionProcesses())).isEmpty();
        }
    }
}
