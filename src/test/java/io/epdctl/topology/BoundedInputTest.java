package io.epdctl.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.SystemTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The largest files the reader accepts are checked in bounded memory: `epdctl validate` runs in a JVM of
 * its own with a small heap, and reports a file of 40,000 clashing nodes in a few summarised lines.
 */
@SystemTest
class BoundedInputTest {
    /** The heap the child JVM gets; the 3 MB file below needs about 90 MB today. */
    private static final String HEAP = "-Xmx128m";
    private static final int NODES = 40_000;

    @TempDir
    Path dir;

    record Run(int exitCode, String out, String err) {
    }

    private Run validateInSmallJvm(Path file) throws IOException, InterruptedException {
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process process = new ProcessBuilder(List.of(java.toString(), HEAP, "-cp", classPath, "io.epdctl.cli.Main",
                "validate", file.toString()))
                .redirectOutput(out.toFile())
                .redirectError(err.toFile())
                .start();
        try {
            // A bound against a hung child only, not a measurement (the figure is in docs/topology.md).
            assertThat(process.waitFor(10, TimeUnit.MINUTES)).as("validate finished").isTrue();
        } finally {
            process.destroyForcibly();
        }
        return new Run(process.exitValue(), Files.readString(out), Files.readString(err));
    }

    @Test
    void fortyThousandClashingNodesAreReportedInAFewLines() throws Exception {
        StringBuilder yaml = new StringBuilder("""
                name: big
                model: /models/qwen
                served-model-name: qwenvl
                hosts:
                  local: {address: 127.0.0.1}
                ec-transfer: {shared-storage-path: /data/ec_cache}
                nodes:
                """);
        for (int i = 0; i < NODES; i++) {
            yaml.append("  - {name: e").append(i).append(", role: encoder, host: local, devices: [0], port: 23001}\n");
        }
        yaml.append("  - {name: pd0, role: pd, host: local, devices: [1], port: 33003}\n");
        yaml.append("proxy: {host: local, port: 8001}\n");
        Path file = Files.writeString(dir.resolve("big.yaml"), yaml);
        assertThat(Files.size(file)).as("near the bound").isGreaterThan(TopologyLoader.MAX_BYTES * 9L / 10)
                .isLessThanOrEqualTo(TopologyLoader.MAX_BYTES);

        Run run = validateInSmallJvm(file);

        assertThat(run.exitCode()).as(run.err()).isEqualTo(2);
        assertThat(run.err()).doesNotContain("OutOfMemoryError").doesNotContain("Exception").doesNotContain("\tat ");
        assertThat(run.err().getBytes(StandardCharsets.UTF_8).length).as("a summary, not 40,000 lines").isLessThan(10_000);
        assertThat(run.err())
                .contains(file + ":9:64: nodes[1].port: port 23001 of nodes[1] (e1) on this machine overlaps port 23001 "
                        + "of nodes[0] (e0)")
                .contains(file + ":14:64: nodes[*].port: and 39,994 more overlapping port 23001 of nodes[0] (e0) on this "
                        + "machine (up to line 40007)")
                .contains(file + ":14:54: nodes[*].devices[*]: and 39,994 more nodes given NPU 0 on this machine, already "
                        + "given to nodes[0] (e0) (up to line 40007)")
                .contains("epdctl: " + file + ": 79998 errors; nothing was done");
        assertThat(run.out()).isEmpty();
    }

    @Test
    void anAliasBombIsStoppedAtTheBound() throws Exception {
        StringBuilder yaml = new StringBuilder(TopologyText.VALID).append("x:\n  l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n");
        for (int level = 1; level <= 9; level++) {
            yaml.append("  l").append(level).append(": &l").append(level).append(" [")
                    .append(String.join(", ", java.util.Collections.nCopies(10, "*l" + (level - 1)))).append("]\n");
        }
        Path file = Files.writeString(dir.resolve("bomb.yaml"), yaml);

        Run run = validateInSmallJvm(file);

        assertThat(run.exitCode()).as(run.err()).isEqualTo(2);
        assertThat(run.err()).doesNotContain("OutOfMemoryError").doesNotContain("Exception")
                .contains(": x.l4[7]: the aliases expand to more than 100,000 values")
                .contains("epdctl: " + file + ": 1 error; nothing was done");
    }
}
