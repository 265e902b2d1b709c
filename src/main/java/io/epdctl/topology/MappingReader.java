package io.epdctl.topology;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Reads the typed fields of one YAML mapping against the keys it may have. Each problem (unknown key,
 * wrong type, missing field, out of range) is reported where it stands; the reader then returns null for
 * that field and goes on, so one pass reports everything. {@link #isComplete()} tells whether all was well.
 */
final class MappingReader {
    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern FLAG_NAME = Pattern.compile("[a-z0-9][a-z0-9-]*");
    /** What argparse takes for a value although it begins with '-'. */
    private static final Pattern NEGATIVE_NUMBER = Pattern.compile("-\\d+|-\\d*\\.\\d+");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final YamlNode.Mapping mapping;
    private final String path;
    private final Location location;
    private final Problems problems;
    private boolean complete = true;

    /** Reads {@code node}, which must be a mapping whose keys are all in {@code allowedKeys}. */
    MappingReader(YamlNode node, List<String> allowedKeys, Problems problems) {
        this.problems = problems;
        this.path = node.path();
        this.location = node.location();
        if (node instanceof YamlNode.Mapping m) {
            this.mapping = m;
            for (YamlNode.Entry entry : m.entries().values()) {
                if (!allowedKeys.contains(entry.key())) {
                    fail(YamlTreeReader.childPath(path, entry.key()), entry.keyLocation(),
                            "unknown key '" + entry.key() + "'" + Suggestions.hint(entry.key(), allowedKeys));
                }
            }
        } else {
            this.mapping = new YamlNode.Mapping(path, location, Map.of());
            fail(path, location, "expected a mapping, got " + node.kind());
        }
    }

    boolean isComplete() {
        return complete;
    }

    /** Marks this mapping incomplete for a problem already reported (in a mapping nested in it). */
    void incomplete() {
        complete = false;
    }

    /** Marks this mapping incomplete for a problem found by the caller. */
    void fail(String at, Location where, String message) {
        complete = false;
        problems.error(at, where, message);
    }

    YamlNode node(String key) {
        YamlNode.Entry entry = mapping.entries().get(key);
        return entry == null ? null : entry.value();
    }

    /** An optional section's value, or null when it is not given or given empty ({@code vllm: ~}). */
    YamlNode section(String key) {
        YamlNode value = node(key);
        return value instanceof YamlNode.Scalar scalar && scalar.value() == null ? null : value;
    }

    boolean has(String key) {
        return node(key) != null;
    }

    /** The value of a required key, or null after reporting it missing. */
    YamlNode required(String key) {
        YamlNode value = node(key);
        if (value == null) {
            fail(YamlTreeReader.childPath(path, key), location, "missing required key '" + key + "'");
        }
        return value;
    }

    String requiredString(String key) {
        YamlNode value = required(key);
        return value == null ? null : string(value);
    }

    String optionalString(String key, String fallback) {
        YamlNode value = node(key);
        return value == null ? fallback : string(value);
    }

    /** A non-empty string; numbers are taken as written ({@code name: 2024}). */
    String string(YamlNode value) {
        if (value instanceof YamlNode.Scalar scalar
                && (scalar.value() instanceof String || isWhole(scalar.value()))) {
            String text = String.valueOf(scalar.value());
            if (!text.isBlank()) {
                return text;
            }
            fail(value.path(), value.location(), "must not be empty");
            return null;
        }
        fail(value.path(), value.location(), "expected a string, got " + value.kind());
        return null;
    }

    Integer requiredInt(String key, int min, int max) {
        YamlNode value = required(key);
        return value == null ? null : integer(value, min, max);
    }

    Integer optionalInt(String key, int min, int max, Integer fallback) {
        YamlNode value = node(key);
        return value == null ? fallback : integer(value, min, max);
    }

    private static boolean isWhole(Object value) {
        return value instanceof Long || value instanceof BigInteger;
    }

    Integer integer(YamlNode value, int min, int max) {
        if (value instanceof YamlNode.Scalar scalar && isWhole(scalar.value())) {
            Number number = (Number) scalar.value();
            if (number instanceof BigInteger || number.longValue() < min || number.longValue() > max) {
                fail(value.path(), value.location(), "must be between " + min + " and " + max + ", got " + number);
                return null;
            }
            return number.intValue();
        }
        fail(value.path(), value.location(), "expected a whole number, got " + value.kind());
        return null;
    }

    List<Integer> requiredIntList(String key, int min, int max) {
        YamlNode value = required(key);
        if (value == null) {
            return null;
        }
        if (!(value instanceof YamlNode.Sequence sequence)) {
            fail(value.path(), value.location(), "expected a list, got " + value.kind());
            return null;
        }
        if (sequence.items().isEmpty()) {
            fail(value.path(), value.location(), "must not be empty");
            return null;
        }
        List<Integer> numbers = new ArrayList<>();
        for (YamlNode item : sequence.items()) {
            numbers.add(integer(item, min, max));
        }
        return numbers.contains(null) ? null : List.copyOf(numbers);
    }

    List<String> stringList(String key) {
        YamlNode value = section(key);
        if (value == null) {
            return List.of();
        }
        if (!(value instanceof YamlNode.Sequence sequence)) {
            fail(value.path(), value.location(), "expected a list of strings, got " + value.kind());
            return List.of();
        }
        List<String> lines = new ArrayList<>();
        for (YamlNode item : sequence.items()) {
            String line = string(item);
            if (line != null) {
                lines.add(line);
            }
        }
        return List.copyOf(lines);
    }

    /** Environment variables: names as the shell allows; scalar values, taken as text. */
    Map<String, String> env(String key) {
        Map<String, String> env = new LinkedHashMap<>();
        YamlNode value = section(key);
        if (value == null) {
            return env;
        }
        if (!(value instanceof YamlNode.Mapping m)) {
            fail(value.path(), value.location(), "expected a mapping of variable names to values, got " + value.kind());
            return env;
        }
        for (YamlNode.Entry entry : m.entries().values()) {
            YamlNode item = entry.value();
            if (!ENV_NAME.matcher(entry.key()).matches()) {
                fail(item.path(), entry.keyLocation(), "'" + entry.key() + "' is not a valid environment variable name");
            } else if (!(item instanceof YamlNode.Scalar scalar) || scalar.value() == null) {
                fail(item.path(), item.location(), "expected a value for the variable, got " + item.kind());
            } else {
                env.put(entry.key(), String.valueOf(scalar.value()));
            }
        }
        return env;
    }

    /**
     * {@code vllm serve} flags, spelt without the dashes. Underscores become dashes, as vLLM's own parser
     * does, so that {@code max_model_len} overrides a default {@code max-model-len}.
     */
    Map<String, ArgValue> args(String key) {
        Map<String, ArgValue> args = new LinkedHashMap<>();
        Map<String, YamlNode.Entry> spelt = new LinkedHashMap<>(); // flag -> the entry that set it
        YamlNode value = section(key);
        if (value == null) {
            return args;
        }
        if (!(value instanceof YamlNode.Mapping m)) {
            fail(value.path(), value.location(), "expected a mapping of flag names to values, got " + value.kind());
            return args;
        }
        for (YamlNode.Entry entry : m.entries().values()) {
            String flag = entry.key().replace('_', '-');
            YamlNode item = entry.value();
            if (flag.startsWith("-")) {
                fail(item.path(), entry.keyLocation(),
                        "write the flag without its dashes: '" + flag.replaceFirst("^-+", "") + "'");
            } else if (!FLAG_NAME.matcher(flag).matches()) {
                fail(item.path(), entry.keyLocation(), "'" + entry.key() + "' is not a vllm flag name");
            } else if (spelt.containsKey(flag)) {
                YamlNode.Entry first = spelt.get(flag);
                fail(item.path(), entry.keyLocation(), "'" + entry.key() + "' is the flag '" + first.key()
                        + "' again (given at line " + first.keyLocation().line() + "); vLLM reads '_' as '-': keep one");
            } else {
                spelt.put(flag, entry);
                ArgValue arg = argValue(item);
                if (arg != null) {
                    args.put(flag, arg);
                }
            }
        }
        // Both --x and --no-x: vLLM's parser takes the last one on the command line, which no reader of the file sees.
        for (Map.Entry<String, ArgValue> arg : args.entrySet()) {
            String negated = "no-" + arg.getKey();
            if (!(arg.getValue() instanceof ArgValue.Omitted) && args.containsKey(negated)
                    && !(args.get(negated) instanceof ArgValue.Omitted)) {
                YamlNode.Entry later = spelt.get(negated).keyLocation().line() > spelt.get(arg.getKey()).keyLocation().line()
                        ? spelt.get(negated) : spelt.get(arg.getKey());
                fail(later.value().path(), later.keyLocation(), "both '" + arg.getKey() + "' and '" + negated
                        + "' are given: they contradict each other; keep one (false leaves a flag out)");
            }
        }
        return args;
    }

    private ArgValue argValue(YamlNode item) {
        if (item instanceof YamlNode.Scalar scalar) {
            Object v = scalar.value();
            if (v == null) {
                fail(item.path(), item.location(), "give the flag a value, true for a bare flag or false to leave it out");
                return null;
            }
            if (v instanceof Boolean flag) {
                return flag ? new ArgValue.Bare() : new ArgValue.Omitted();
            }
            return new ArgValue.Single(String.valueOf(v));
        }
        if (item instanceof YamlNode.Sequence sequence) {
            List<String> values = new ArrayList<>();
            for (YamlNode element : sequence.items()) {
                if (element instanceof YamlNode.Scalar s && s.value() != null && !(s.value() instanceof Boolean)) {
                    String text = String.valueOf(s.value());
                    if (sequence.items().size() > 1 && text.startsWith("-") && !NEGATIVE_NUMBER.matcher(text).matches()) {
                        // one value can be given as --flag=-x; several cannot, and argparse reads -x as an option
                        fail(element.path(), element.location(), "'" + text + "' begins with '-': vLLM's argument parser "
                                + "would read it as an option, not as one of the flag's values");
                    }
                    values.add(text);
                } else {
                    fail(element.path(), element.location(), "expected a value to repeat the flag with, got " + element.kind());
                }
            }
            return new ArgValue.Listed(List.copyOf(values));
        }
        return new ArgValue.Single(toJson(item));
    }

    /** A free-form mapping handed to vLLM as JSON (a connector's extra config). */
    Map<String, Object> jsonObject(String key) {
        YamlNode value = section(key);
        if (value == null) {
            return Map.of();
        }
        if (!(value instanceof YamlNode.Mapping)) {
            fail(value.path(), value.location(), "expected a mapping, got " + value.kind());
            return Map.of();
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> plain = (Map<String, Object>) plain(value);
        return plain;
    }

    private static String toJson(YamlNode node) {
        try {
            return JSON.writeValueAsString(plain(node));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("plain YAML values always convert to JSON", e);
        }
    }

    private static Object plain(YamlNode node) {
        if (node instanceof YamlNode.Mapping m) {
            Map<String, Object> map = new LinkedHashMap<>();
            m.entries().forEach((k, entry) -> map.put(k, plain(entry.value())));
            return map;
        }
        if (node instanceof YamlNode.Sequence s) {
            return s.items().stream().map(MappingReader::plain).toList();
        }
        return ((YamlNode.Scalar) node).value();
    }
}
