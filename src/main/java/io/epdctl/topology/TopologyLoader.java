package io.epdctl.topology;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads and checks a topology file: syntax, structure, then the cross-checks, all problems at once. */
public final class TopologyLoader {
    private TopologyLoader() {
    }

    public static LoadResult load(Path file) {
        Problems problems = new Problems();
        String text = read(file, problems);
        if (text == null) {
            return new LoadResult(file, null, problems.sorted());
        }
        YamlNode root = new YamlTreeReader(problems).read(text);
        if (root == null) {
            return new LoadResult(file, null, problems.sorted());
        }
        if (!(root instanceof YamlNode.Mapping)) {
            problems.error("", root.location(), "a topology is a mapping (name:, hosts:, nodes:, ...), got " + root.kind());
            return new LoadResult(file, null, problems.sorted());
        }
        Topology draft = new TopologyBinder(problems).bind(root);
        new TopologyValidator(draft, new SourceMap(root), problems).validate();
        if (problems.hasErrors()) {
            return new LoadResult(file, null, problems.sorted());
        }
        return new LoadResult(file, resolveRelativeCommands(draft, file.toAbsolutePath().getParent()), problems.sorted());
    }

    /**
     * A command or script written as {@code ./x} or {@code ../x} is relative to the topology file, so that a
     * checked-out repository (its demo runs bin/vllm-sim) works from any directory.
     */
    private static Topology resolveRelativeCommands(Topology topology, Path directory) {
        VllmSettings vllm = topology.vllm();
        ProxySpec proxy = topology.proxy();
        return new Topology(topology.name(), topology.model(), topology.servedModelName(), topology.hosts(),
                new VllmSettings(resolve(vllm.command(), directory), vllm.env(), vllm.setup(), vllm.args()),
                topology.ecTransfer(), topology.kvTransfer(), topology.nodes(),
                new ProxySpec(proxy.host(), proxy.port(), resolve(proxy.script(), directory), proxy.python(),
                        resolve(proxy.command(), directory), proxy.env(), proxy.setup(), proxy.args()));
    }

    private static String resolve(String command, Path directory) {
        if (command == null || !(command.startsWith("./") || command.startsWith("../"))) {
            return command;
        }
        return directory.resolve(command).normalize().toString();
    }

    private static String read(Path file, Problems problems) {
        try {
            if (Files.isDirectory(file)) {
                problems.error("", Location.START, "is a directory, not a topology file");
                return null;
            }
            return Files.readString(file);
        } catch (NoSuchFileException e) {
            problems.error("", Location.START, "no such file");
        } catch (CharacterCodingException e) {
            problems.error("", Location.START, "is not UTF-8 text");
        } catch (IOException e) {
            problems.error("", Location.START, "cannot be read: " + e.getMessage());
        }
        return null;
    }
}
