package io.epdctl.topology;

/**
 * Where each path of the file stands, so that checks on the model can point back into the file. Paths are
 * looked up in the tree itself (no index of every value is kept: a file may hold a million of them).
 */
final class SourceMap {
    private final YamlNode root;

    SourceMap(YamlNode root) {
        this.root = root;
    }

    /** Whether the file has a value at {@code path} ({@code key: ~} is none). */
    boolean contains(String path) {
        YamlNode found = find(path, true);
        return found != null && !(found instanceof YamlNode.Scalar scalar && scalar.value() == null);
    }

    /** The location of {@code path}, or of its nearest enclosing value when it was not written (a default). */
    Location locate(String path) {
        YamlNode found = find(path, false);
        return found == null ? Location.START : found.location();
    }

    /** The value at {@code path}; when it is not there, null if {@code exact}, else the deepest value on the way. */
    private YamlNode find(String path, boolean exact) {
        YamlNode node = root;
        String rest = path;
        while (node != null && !rest.isEmpty()) {
            YamlNode next = null;
            int consumed = 0;
            if (node instanceof YamlNode.Mapping mapping) {
                // A key may itself contain '.' or '[' (a host named npu.a): try the longest candidate first.
                for (int end = rest.length(); end > 0; end = lastSeparator(rest, end)) {
                    YamlNode.Entry entry = mapping.entries().get(rest.substring(0, end));
                    if (entry != null) {
                        next = entry.value();
                        consumed = end;
                        break;
                    }
                }
            } else if (node instanceof YamlNode.Sequence sequence && rest.startsWith("[")) {
                int close = rest.indexOf(']');
                try {
                    int index = Integer.parseInt(rest.substring(1, close));
                    if (index >= 0 && index < sequence.items().size()) {
                        next = sequence.items().get(index);
                        consumed = close + 1;
                    }
                } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
                    next = null;
                }
            }
            if (next == null) {
                return exact ? null : node;
            }
            node = next;
            rest = rest.substring(consumed);
            if (rest.startsWith(".")) {
                rest = rest.substring(1);
            }
        }
        return node;
    }

    /** The end of the next shorter key candidate: the last '.' or '[' before {@code end}, or 0. */
    private static int lastSeparator(String text, int end) {
        for (int i = end - 1; i > 0; i--) {
            char c = text.charAt(i);
            if (c == '.' || c == '[') {
                return i;
            }
        }
        return 0;
    }
}
