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
        return new LoadResult(file, problems.hasErrors() ? null : draft, problems.sorted());
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
