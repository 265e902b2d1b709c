package io.epdctl.topology;

import java.util.List;
import java.util.Map;

/**
 * The topology file as a tree that remembers where each value stands, so that every problem can be
 * reported at its line and column. {@code path} is the reader's name for the value: {@code nodes[2].port}.
 */
sealed interface YamlNode {
    String path();

    Location location();

    /** What the user wrote this as, for "expected X, got Y" messages. */
    String kind();

    record Mapping(String path, Location location, Map<String, Entry> entries) implements YamlNode {
        @Override
        public String kind() {
            return entries.isEmpty() ? "an empty mapping" : "a mapping";
        }
    }

    /** A key of a mapping with its value; the key's location is where "unknown key" points. */
    record Entry(String key, Location keyLocation, YamlNode value) {
    }

    record Sequence(String path, Location location, List<YamlNode> items) implements YamlNode {
        @Override
        public String kind() {
            return items.isEmpty() ? "an empty list" : "a list";
        }
    }

    /** A scalar: String, Long (BigInteger beyond its range), Double, Boolean, or null for an empty value. */
    record Scalar(String path, Location location, Object value) implements YamlNode {
        @Override
        public String kind() {
            if (value == null) {
                return "an empty value";
            }
            if (value instanceof Boolean) {
                return "a boolean";
            }
            if (value instanceof Number) {
                return "a number";
            }
            return "a string";
        }
    }
}
