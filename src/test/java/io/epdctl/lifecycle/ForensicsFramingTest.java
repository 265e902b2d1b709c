package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.state.ProcessRecord;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What describe and collect read off a host, and the tar they write; the real hosts are in ForensicsIT. */
class ForensicsFramingTest {
    private static final ProcessRecord E0 = new ProcessRecord("e0", "encoder", "local", "127.0.0.1", 23001, List.of(0),
            List.of(), 4242, "777", Instant.EPOCH, "/run", "h", null, null);

    @Test
    void itemsAndFactsAreReadFromReportLinesOnly() {
        String output = String.join("\n",
                "setup noise",
                "@epdctl line uname Linux host 6.1.0 x86_64",
                "@epdctl done uname 0",
                "@epdctl missing npu-smi npu-smi",
                "@epdctl line script:e0 #!/usr/bin/env bash",
                "@epdctl line script:e0 ",
                "@epdctl line script:e0 exec vllm serve m",
                "@epdctl done script:e0 0",
                "@epdctl line log:e0 cut short",
                "@epdctl state e0 running",
                "@epdctl members e0 4242 4250",
                "@epdctl members e1 1",
                "@epdctl exit e0 3 1767225600",
                "@epdctl done bogus notanumber",
                "");

        Map<String, HostCommands.Item> items = HostCommands.items(output);

        assertThat(items.get("uname")).isEqualTo(new HostCommands.Item(List.of("Linux host 6.1.0 x86_64"), 0, null));
        assertThat(items.get("npu-smi").missingTool()).isEqualTo("npu-smi");
        assertThat(items.get("script:e0").text()).isEqualTo("#!/usr/bin/env bash\n\nexec vllm serve m\n");
        assertThat(items.get("log:e0").status()).as("a tail that never ended").isNull();
        assertThat(items).doesNotContainKey("bogus");
        HostCommands.ProcessFacts facts = HostCommands.processFacts(output, E0);
        assertThat(facts).isEqualTo(new HostCommands.ProcessFacts(ProcessState.of(ProcessState.Kind.RUNNING),
                List.of(4242L, 4250L), 3, 1767225600L));
    }

    @Test
    void theTarHasUstarHeadersWithChecksumsPaddingAndAPaxNameWhenLong() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        String longName = "d/" + "n".repeat(120) + "/log-tail.txt";
        try (TarArchive tar = new TarArchive(bytes, Instant.ofEpochSecond(1_700_000_000))) {
            tar.add("d/collect.txt", "hello\n".getBytes(StandardCharsets.UTF_8));
            tar.add(longName, new byte[600]);
        }
        byte[] tar = bytes.toByteArray();

        assertThat(tar.length % 512).isZero();
        assertThat(field(tar, 0, 100)).isEqualTo("d/collect.txt");
        assertThat(field(tar, 257, 6)).isEqualTo("ustar");
        assertThat(Long.parseLong(field(tar, 124, 12), 8)).isEqualTo(6);
        assertThat(Long.parseLong(field(tar, 136, 12), 8)).isEqualTo(1_700_000_000);
        assertThat(checksumHolds(tar, 0)).isTrue();
        assertThat(new String(tar, 512, 6, StandardCharsets.UTF_8)).isEqualTo("hello\n");
        int pax = 1024;
        assertThat((char) tar[pax + 156]).isEqualTo('x');
        assertThat(checksumHolds(tar, pax)).isTrue();
        String record = new String(tar, pax + 512, (int) Long.parseLong(field(tar, pax + 124, 12), 8), StandardCharsets.UTF_8);
        assertThat(record).isEqualTo(record.length() + " path=" + longName + "\n");
        int file = pax + 1024;
        assertThat((char) tar[file + 156]).isEqualTo('0');
        assertThat(Long.parseLong(field(tar, file + 124, 12), 8)).isEqualTo(600);
        // the file's 600 bytes take two blocks, then two zero blocks end the archive
        assertThat(tar.length).isEqualTo(file + 512 + 1024 + 1024);
    }

    private static String field(byte[] tar, int offset, int length) {
        String text = new String(tar, offset, length, StandardCharsets.US_ASCII);
        int nul = text.indexOf('\0');
        return (nul < 0 ? text : text.substring(0, nul)).strip();
    }

    private static boolean checksumHolds(byte[] tar, int header) {
        long sum = 0;
        for (int i = 0; i < 512; i++) {
            sum += (i >= 148 && i < 156) ? ' ' : tar[header + i] & 0xff;
        }
        return sum == Long.parseLong(field(tar, header + 148, 8), 8);
    }
}
