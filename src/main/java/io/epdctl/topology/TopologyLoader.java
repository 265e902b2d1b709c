package io.epdctl.topology;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads and checks a topology file: syntax, structure, then the cross-checks, all problems at once. */
public final class TopologyLoader {
    /** Far more than any deployment needs, and what every check handles within seconds and bounded memory. */
    static final int MAX_BYTES = 3 * 1024 * 1024;

    private TopologyLoader() {
    }

    public static LoadResult load(Path file) {
        Problems problems = new Problems();
        String text = read(file, problems);
        if (text == null) {
            return failed(file, problems);
        }
        YamlNode root = new YamlTreeReader(problems).read(text);
        if (root == null) {
            return failed(file, problems);
        }
        if (!(root instanceof YamlNode.Mapping)) {
            problems.error("", root.location(), "a topology is a mapping (name:, hosts:, nodes:, ...), got " + root.kind());
            return failed(file, problems);
        }
        Topology draft = new TopologyBinder(problems).bind(root);
        new TopologyValidator(draft, new SourceMap(root), problems).validate();
        if (problems.hasErrors()) {
            return failed(file, problems);
        }
        return new LoadResult(file, resolveRelativeCommands(draft, file.toAbsolutePath().getParent()), problems.sorted(), 0);
    }

    private static LoadResult failed(Path file, Problems problems) {
        return new LoadResult(file, null, problems.sorted(), problems.errorCount());
    }

    /**
     * A command or script written as {@code ./x} or {@code ../x} is relative to the topology file, so that a
     * checked-out repository (its demo runs bin/vllm-sim) works from any directory.
     */
    private static Topology resolveRelativeCommands(Topology topology, Path directory) {
        VllmSettings vllm = topology.vllm();
        ProxySpec proxy = topology.proxy();
        return new Topology(topology.name(), topology.model(), topology.servedModelName(), topology.hosts(),
                new VllmSettings(resolve(vllm.command(), directory), vllm.env(), vllm.setup(), vllm.args(), vllm.restart()),
                topology.ecTransfer(), topology.kvTransfer(), topology.nodes(),
                new ProxySpec(proxy.host(), proxy.port(), resolve(proxy.script(), directory), proxy.kind(), proxy.python(),
                        resolve(proxy.command(), directory), proxy.env(), proxy.setup(), proxy.args(), proxy.restart()));
    }

    private static String resolve(String command, Path directory) {
        if (command == null || !(command.startsWith("./") || command.startsWith("../"))) {
            return command;
        }
        return directory.resolve(command).normalize().toString();
    }

    /**
     * The file's text, or null after reporting why there is none. The size is bounded before anything is
     * held in memory (a topology of a thousand nodes is about 100 kB), and bytes that are not UTF-8 are
     * reported where they stand.
     */
    private static String read(Path file, Problems problems) {
        try {
            if (Files.isDirectory(file)) {
                problems.error("", Location.START, "is a directory, not a topology file");
                return null;
            }
            byte[] bytes;
            try (InputStream in = Files.newInputStream(file)) {
                bytes = in.readNBytes(MAX_BYTES + 1);
            }
            if (bytes.length > MAX_BYTES) {
                problems.error("", Location.START, String.format("is larger than %,d bytes (3 MiB), the most a topology "
                        + "file may have", MAX_BYTES));
                return null;
            }
            return decode(bytes, problems);
        } catch (NoSuchFileException e) {
            problems.error("", Location.START, "no such file");
        } catch (IOException e) {
            problems.error("", Location.START, "cannot be read: " + e.getMessage());
        }
        return null;
    }

    private static String decode(byte[] bytes, Problems problems) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult result = decoder.decode(in, out, true);
        if (result.isError()) {
            String before = new String(bytes, 0, in.position(), StandardCharsets.UTF_8);
            problems.error("", YamlTreeReader.locationOf(before, before.codePointCount(0, before.length())),
                    String.format("is not UTF-8 text: the byte 0x%02X here is not UTF-8", bytes[in.position()] & 0xff));
            return null;
        }
        decoder.flush(out);
        return out.flip().toString();
    }
}
