package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.state.DeploymentState;
import io.epdctl.state.HostRecord;
import io.epdctl.state.ProcessRecord;
import io.epdctl.state.StateStore;
import io.epdctl.testing.Cli;
import io.epdctl.testing.FreePorts;
import io.epdctl.testing.SimDeployment;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * describe and collect on a running vllm-sim deployment started by a real {@code up}, with a secret in a
 * node's environment and one in a flag (a wrapper drops the flag, which vllm-sim does not know, after
 * printing its whole argv and the variable into the log, so the log holds both bare).
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ForensicsIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ENV_SECRET = "s3cr3t-value";
    private static final String FLAG_SECRET = "sk-flag-5ecret";

    @TempDir
    Path dir;

    @Test
    void describeAndCollectShowEverythingButTheSecretsAndDownLeavesNothing() throws Exception {
        Path wrapper = dir.resolve("sim-with-key");
        Files.writeString(wrapper, """
                #!/bin/sh
                echo "wrapper: argv $*"
                echo "wrapper: token $HF_TOKEN"
                n=$#; i=0
                while [ $i -lt $n ]; do
                  a=$1; shift; i=$((i + 1))
                  if [ "$a" = --api-key ]; then shift; i=$((i + 1)); continue; fi
                  set -- "$@" "$a"
                done
                exec %s "$@"
                """.formatted(Path.of("bin/vllm-sim").toAbsolutePath()));
        Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (SimDeployment deployment = SimDeployment.builder(dir.resolve("d")).nodeEnv("e0", "HF_TOKEN", ENV_SECRET)
                .nodeArgs("e0", "api-key: " + FLAG_SECRET).write()) {
            Files.writeString(deployment.file(), Files.readString(deployment.file())
                    .replace("command: " + Path.of("bin/vllm-sim").toAbsolutePath(), "command: " + wrapper));
            Cli.Result up = deployment.up();
            assertThat(up.exitCode()).as(up.toString()).isZero();
            long e0Group = new StateStore(deployment.stateDir()).read(deployment.name()).orElseThrow().process("e0")
                    .orElseThrow().processGroup();

            Cli.Result text = deployment.epdctl("describe", "e0");
            assertThat(text.exitCode()).as(text.toString()).isZero();
            assertThat(text.out()).containsPattern("(?m)^Host:\\s+local \\(127\\.0\\.0\\.1\\)$")
                    .containsPattern("(?m)^Role:\\s+encoder$")
                    .containsPattern("(?m)^NPUs:\\s+0$")
                    .containsPattern("(?m)^Ports:\\s+" + deployment.port("e0") + " \\(HTTP\\)$")
                    .containsPattern("(?m)^Process group:\\s+" + e0Group + " \\(live: " + e0Group + " ")
                    .containsPattern("(?m)^State:\\s+running$")
                    .containsPattern("(?m)^Ready:\\s+yes$")
                    .containsPattern("(?m)^Last exit:\\s+-$")
                    .containsPattern("(?m)^Log:\\s+.*/e0\\.log$")
                    .contains("  HF_TOKEN=***", "--api-key '***'", "'serve' 'sim/model'", "--port '" + deployment.port("e0") + "'")
                    .doesNotContain(ENV_SECRET).doesNotContain(FLAG_SECRET);

            Cli.Result json = deployment.epdctl("describe", "-d", deployment.name(), "d0", "-o", "json");
            assertThat(json.exitCode()).as(json.toString()).isZero();
            JsonNode d0 = JSON.readTree(json.out());
            assertThat(d0.path("role").asText()).isEqualTo("decode");
            assertThat(d0.path("alive").asBoolean()).isTrue();
            assertThat(d0.path("ready").asBoolean()).isTrue();
            assertThat(d0.path("ports")).hasSize(2);
            assertThat(d0.path("argv").get(0).asText()).isEqualTo(wrapper.toString());
            assertThat(d0.path("env").path(SimDeployment.MARKER).asText()).isEqualTo(deployment.marker());
            assertThat(d0.path("lastExit").isNull()).isTrue();
            assertThat(d0.has("restarts")).isTrue();

            Cli.Result unknown = deployment.epdctl("describe", "x9");
            assertThat(unknown.exitCode()).isEqualTo(2);
            assertThat(unknown.err()).contains("has no node x9; it has: e0, p0, d0, proxy");

            Path bundle = dir.resolve("bundle.tar.gz");
            Cli.Result collect = deployment.epdctl("collect", "-o", bundle.toString());
            assertThat(collect.exitCode()).as(collect.toString()).isZero();
            assertThat(collect.out().strip()).isEqualTo(bundle.toString());
            Map<String, byte[]> entries = untar(bundle);
            String root = entries.keySet().iterator().next().split("/")[0];
            assertThat(root).startsWith("epdctl-collect-" + deployment.name() + "-");
            List<String> expected = new java.util.ArrayList<>(List.of("collect.txt", "topology.yaml", "state.json", "status.json",
                    "proxy-metrics.txt"));
            for (String host : List.of("uname", "npu-smi", "ip-addr", "ip_local_port_range", "ip_local_reserved_ports", "df-ec",
                    "vllm-version")) {
                expected.add("hosts/local/" + host + ".txt");
            }
            for (String node : List.of("e0", "p0", "d0", "proxy")) {
                expected.addAll(List.of("nodes/" + node + "/" + node + ".sh", "nodes/" + node + "/log-tail.txt",
                        "nodes/" + node + "/previous-log-tail.txt", "nodes/" + node + "/exits.txt", "nodes/" + node + "/exit.txt"));
            }
            assertThat(entries.keySet()).containsExactlyInAnyOrderElementsOf(expected.stream().map(p -> root + "/" + p).toList());
            entries.forEach((name, bytes) -> {
                String content = new String(bytes, StandardCharsets.ISO_8859_1);
                assertThat(content).as(name).doesNotContain(ENV_SECRET).doesNotContain(FLAG_SECRET);
            });
            assertThat(text(entries, root, "topology.yaml")).contains("HF_TOKEN: ***", "api-key: ***");
            assertThat(text(entries, root, "nodes/e0/e0.sh")).contains("export HF_TOKEN=***", "--api-key ***");
            assertThat(text(entries, root, "nodes/e0/log-tail.txt")).contains("wrapper: argv", "--api-key ***",
                    "wrapper: token ***", "Application startup complete.");
            assertThat(text(entries, root, "nodes/d0/exit.txt")).contains("state now: running", "last exit recorded by its supervisor: none",
                    "restarts by its supervisor: 0");
            assertThat(text(entries, root, "nodes/d0/previous-log-tail.txt")).contains("none: its supervisor has not started it again",
                    "(exit status 0)");
            assertThat(text(entries, root, "nodes/d0/exits.txt")).contains("none recorded", "(exit status 0)");
            assertThat(JSON.readTree(text(entries, root, "status.json")).path("processes")).hasSize(4);
            assertThat(text(entries, root, "proxy-metrics.txt")).startsWith("# GET http://127.0.0.1:" + deployment.port("proxy")
                    + "/metrics: 200\n");
            assertThat(text(entries, root, "hosts/local/uname.txt")).startsWith("$ uname -a\nLinux ").contains("(exit status 0)");
            assertThat(text(entries, root, "hosts/local/ip_local_port_range.txt")).containsPattern("\\d+\\s+\\d+");
            assertThat(text(entries, root, "hosts/local/df-ec.txt")).contains("Filesystem", "(exit status 0)");
            assertThat(text(entries, root, "hosts/local/npu-smi.txt")).containsAnyOf("npu-smi is not installed on local", "(exit status");
            assertThat(text(entries, root, "hosts/local/vllm-version.txt"))
                    .contains("after the setup lines of the script of e0, p0\n", "after the setup lines of the script of d0\n",
                            "wrapper: argv --version", "(exit status 2)");
            assertThat(text(entries, root, "collect.txt")).contains("hosts answered: 1 of 1", "everything was collected");
            Process tar = new ProcessBuilder("tar", "-tzf", bundle.toString()).redirectErrorStream(true).start();
            String listing = new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(tar.waitFor()).as(listing).isZero();
            assertThat(listing.lines().toList()).containsExactlyInAnyOrderElementsOf(entries.keySet());
            try (var files = Files.list(dir)) {
                assertThat(files.map(file -> file.getFileName().toString())).as("no temporary file left")
                        .containsExactlyInAnyOrder("sim-with-key", "d", "bundle.tar.gz");
            }

            Cli.Result down = deployment.epdctl("down");
            assertThat(down.exitCode()).as(down.toString()).isZero();
            assertThat(deployment.processesLeft()).as(deployment.describeProcesses()).isEmpty();
        }
    }

    @Test
    void anUnreachableHostIsRecordedAndTheBundleStillWritten() throws Exception {
        Path stateDir = dir.resolve("state");
        Path topology = Files.writeString(dir.resolve("t.yaml"), "name: gone\n");
        int closedPort = FreePorts.pick();
        HostRecord far = new HostRecord("far", "127.0.0.1", false, "nobody", closedPort, null);
        ProcessRecord e0 = new ProcessRecord("e0", "encoder", "far", "127.0.0.1", closedPort, List.of(0), List.of(), 4242, "1",
                Instant.now(), ".epdctl/run/gone", "h", null, null);
        Map<String, HostRecord> hosts = new LinkedHashMap<>(Map.of("far", far));
        new StateStore(stateDir).write(new DeploymentState("gone", topology.toString(), "m", "/tmp/ec", hosts, List.of(e0),
                Instant.now()));
        Path bundle = dir.resolve("gone.tar.gz");

        Cli.Result collect = Cli.run("collect", "-o", bundle.toString(), "--state-dir", stateDir.toString(),
                "--known-hosts", dir.resolve("known_hosts").toString());

        assertThat(collect.exitCode()).as(collect.toString()).isEqualTo(1);
        assertThat(collect.err()).contains("epdctl: warning: host far not collected:", "no host of gone could be reached");
        Map<String, byte[]> entries = untar(bundle);
        String root = entries.keySet().iterator().next().split("/")[0];
        assertThat(text(entries, root, "collect.txt")).contains("hosts answered: 0 of 1", "host far not collected");
        assertThat(text(entries, root, "topology.yaml")).isEqualTo("name: gone\n");
        assertThat(entries).containsKey(root + "/state.json");

        Cli.Result describe = Cli.run("describe", "e0", "--state-dir", stateDir.toString(),
                "--known-hosts", dir.resolve("known_hosts").toString());
        assertThat(describe.exitCode()).as(describe.toString()).isEqualTo(1);
        assertThat(describe.out()).containsPattern("(?m)^State:\\s+host unreachable: ");
        Cli.Result nowhere = Cli.run("collect", "-o", dir.resolve("no/such/dir/b.tar.gz").toString(), "--state-dir",
                stateDir.toString(), "--known-hosts", dir.resolve("known_hosts").toString());
        assertThat(nowhere.exitCode()).isEqualTo(1);
        assertThat(nowhere.err()).contains("epdctl: cannot write " + dir.resolve("no/such/dir/b.tar.gz") + ": ");
    }

    private static String text(Map<String, byte[]> entries, String root, String path) {
        byte[] bytes = entries.get(root + "/" + path);
        assertThat(bytes).as(path).isNotNull();
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** The bundle's files by name, read as any tar reader would (pax path records honoured). */
    private static Map<String, byte[]> untar(Path file) throws Exception {
        byte[] tar;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
            tar = in.readAllBytes();
        }
        Map<String, byte[]> entries = new LinkedHashMap<>();
        String paxPath = null;
        int offset = 0;
        while (offset + 512 <= tar.length && tar[offset] != 0) {
            String name = field(tar, offset, 100);
            int size = (int) Long.parseLong(field(tar, offset + 124, 12), 8);
            char type = (char) tar[offset + 156];
            byte[] content = java.util.Arrays.copyOfRange(tar, offset + 512, offset + 512 + size);
            if (type == 'x') {
                String record = new String(content, StandardCharsets.UTF_8);
                paxPath = record.substring(record.indexOf("path=") + 5, record.length() - 1);
            } else {
                entries.put(paxPath != null ? paxPath : name, content);
                paxPath = null;
            }
            offset += 512 + (size + 511) / 512 * 512;
        }
        return entries;
    }

    private static String field(byte[] tar, int offset, int length) {
        String text = new String(tar, offset, length, StandardCharsets.UTF_8);
        int nul = text.indexOf('\0');
        return (nul < 0 ? text : text.substring(0, nul)).strip();
    }
}
