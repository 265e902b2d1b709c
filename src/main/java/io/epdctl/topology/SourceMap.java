package io.epdctl.topology;

import java.util.HashMap;
import java.util.Map;

/** Where each path of the file stands, so that checks on the model can point back into the file. */
final class SourceMap {
    private final Map<String, Location> locations = new HashMap<>();

    SourceMap(YamlNode root) {
        if (root != null) {
            add(root);
        }
    }

    private void add(YamlNode node) {
        locations.put(node.path(), node.location());
        if (node instanceof YamlNode.Mapping mapping) {
            mapping.entries().values().forEach(entry -> add(entry.value()));
        } else if (node instanceof YamlNode.Sequence sequence) {
            sequence.items().forEach(this::add);
        }
    }

    /** Whether the file has a value at {@code path}. */
    boolean contains(String path) {
        return locations.containsKey(path);
    }

    /** The location of {@code path}, or of its nearest enclosing value when it was not written (a default). */
    Location locate(String path) {
        String p = path;
        while (!p.isEmpty()) {
            Location at = locations.get(p);
            if (at != null) {
                return at;
            }
            int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
            p = cut < 0 ? "" : p.substring(0, cut);
        }
        return locations.getOrDefault("", Location.START);
    }
}
