package io.epdctl.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The control file as the proxy writes it: owner-only, whole, and no token left behind in a temporary file. */
class ControlFileTest {
    @TempDir
    Path dir;

    @Test
    void isWrittenForItsOwnerOnlyAndReadsBack() throws Exception {
        ControlFile control = ControlFile.fresh(40123);
        Path path = dir.resolve(ControlFile.NAME);

        control.writeTo(path);

        assertThat(ControlFile.parse(Files.readString(path))).isEqualTo(control);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(path))).isEqualTo("rw-------");
        try (var files = Files.list(dir)) {
            assertThat(files).containsExactly(path);
        }
    }

    @Test
    void removesWhatAProxyKilledWhileWritingLeftButNotAWriteInProgress() throws Exception {
        Path abandoned = Files.writeString(dir.resolve(".proxy-control123.tmp"), "{\"port\": 1, \"token\": \"old\"}\n");
        Files.setLastModifiedTime(abandoned, FileTime.from(Instant.now().minus(Duration.ofMinutes(5))));
        Path inProgress = Files.writeString(dir.resolve(".proxy-control456.tmp"), "{\"port\": 2,");
        Path unrelated = Files.writeString(dir.resolve("p0.log"), "a node's log\n");
        Files.setLastModifiedTime(unrelated, FileTime.from(Instant.now().minus(Duration.ofMinutes(5))));

        ControlFile.fresh(40124).writeTo(dir.resolve(ControlFile.NAME));

        assertThat(abandoned).doesNotExist();
        assertThat(inProgress).exists();
        assertThat(unrelated).exists();
        assertThat(dir.resolve(ControlFile.NAME)).exists();
    }
}
