package io.epdctl.topology;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.events.AliasEvent;
import org.yaml.snakeyaml.events.CollectionStartEvent;
import org.yaml.snakeyaml.events.Event;
import org.yaml.snakeyaml.events.NodeEvent;
import org.yaml.snakeyaml.events.ScalarEvent;
import org.yaml.snakeyaml.nodes.NodeId;
import org.yaml.snakeyaml.nodes.Tag;
import org.yaml.snakeyaml.parser.Parser;
import org.yaml.snakeyaml.parser.ParserImpl;
import org.yaml.snakeyaml.reader.ReaderException;
import org.yaml.snakeyaml.reader.StreamReader;
import org.yaml.snakeyaml.resolver.Resolver;

/**
 * Reads YAML text into a {@link YamlNode} tree from SnakeYAML's events (the parser under Jackson's YAML
 * module), which carry every value's position. Anchors, aliases and merge keys ({@code <<: *common}) are
 * resolved here: a value reached through an alias is a copy at the alias's path, located where it is
 * written and remembering where the alias stands. Scalars are typed as Jackson's YAML parser types them.
 * Every problem is reported; the tree is null when the file is not YAML epdctl can read.
 */
final class YamlTreeReader {
    /** Far deeper than any topology (its deepest part is a connector's extra-config). */
    static final int MAX_DEPTH = 64;
    /** Values that aliases may add in all: an alias bomb (aliases of aliases, a billion values) stops here. */
    static final int MAX_ALIAS_VALUES = 100_000;

    private static final String MERGE_KEY = "<<";

    private final Problems problems;
    private final Resolver resolver = new Resolver();
    private final Map<String, YamlNode> anchors = new HashMap<>();
    /** Anchors whose value is being read: an alias to one of them would make the value contain itself. */
    private final Set<String> open = new HashSet<>();
    /** Keys and short values repeat in every node ("role", "encoder"): one copy each, up to a bound. */
    private final Map<String, String> pool = new HashMap<>();
    private Parser parser;
    private int aliasValues;
    /** Why aliases are no longer expanded, once the bound is passed. */
    private String overflow;
    private boolean broken;

    YamlTreeReader(Problems problems) {
        this.problems = problems;
    }

    /** The document's root, or null when the text is not valid YAML (the problems are reported). */
    YamlNode read(String text) {
        LoaderOptions options = new LoaderOptions();
        options.setCodePointLimit(Integer.MAX_VALUE); // the loader bounds the file's size, with its own message
        parser = new ParserImpl(new StreamReader(text), options);
        try {
            next(); // stream start
            Event event = next();
            if (event.is(Event.ID.StreamEnd)) {
                problems.error("", Location.START, "the file is empty");
                return null;
            }
            YamlNode root = readValue(next(), "", 1);
            next(); // document end
            Event after = next();
            if (!after.is(Event.ID.StreamEnd)) {
                problems.error("", location(after.getStartMark()), "only one YAML document is allowed");
                return null;
            }
            return broken ? null : root;
        } catch (MarkedYAMLException e) {
            // SnakeYAML's own message spans several lines with a drawing of the spot; keep the gist.
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String context = e.getContext() == null ? "" : " (" + e.getContext().strip() + ")";
            problems.error("", location(mark), "invalid YAML: " + e.getProblem() + context);
        } catch (ReaderException e) {
            problems.error("", locationOf(text, e.getPosition()), "invalid YAML: the character "
                    + Character.getName(e.getCodePoint()) + " (U+" + String.format("%04X", e.getCodePoint())
                    + ") is not allowed in a YAML file");
        } catch (YAMLException e) {
            problems.error("", Location.START, "invalid YAML: " + e.getMessage().lines().findFirst().orElse(""));
        }
        return null;
    }

    private Event next() {
        return parser.getEvent();
    }

    private YamlNode readValue(Event event, String path, int depth) {
        Location at = location(event.getStartMark());
        if (event instanceof AliasEvent alias) {
            return resolve(alias.getAnchor(), path, at, depth);
        }
        String anchor = ((NodeEvent) event).getAnchor();
        if (event instanceof CollectionStartEvent && depth > MAX_DEPTH) {
            broken = true;
            problems.error(path, at, "nested deeper than " + MAX_DEPTH + " levels");
            skipRest(event);
            return new YamlNode.Scalar(path, at, null);
        }
        if (anchor != null) {
            open.add(anchor);
        }
        YamlNode value;
        if (event instanceof ScalarEvent scalar) {
            value = new YamlNode.Scalar(path, at, scalarValue(scalar, path, at));
        } else if (event.is(Event.ID.SequenceStart)) {
            List<YamlNode> items = new ArrayList<>();
            for (Event item = next(); !item.is(Event.ID.SequenceEnd); item = next()) {
                items.add(readValue(item, path + "[" + items.size() + "]", depth + 1));
            }
            value = new YamlNode.Sequence(path, at, items);
        } else {
            value = readMapping(path, at, depth);
        }
        if (anchor != null) {
            open.remove(anchor);
            anchors.put(anchor, value);
        }
        return value;
    }

    private YamlNode.Mapping readMapping(String path, Location at, int depth) {
        Map<String, YamlNode.Entry> entries = new LinkedHashMap<>();
        List<YamlNode.Entry> merged = new ArrayList<>();
        int mergeAt = -1; // where the merged keys go among the mapping's own
        for (Event keyEvent = next(); !keyEvent.is(Event.ID.MappingEnd); keyEvent = next()) {
            Location keyAt = location(keyEvent.getStartMark());
            String key = key(keyEvent, path, keyAt, depth);
            Event valueEvent = next();
            if (key == null) {
                skip(valueEvent);
                continue;
            }
            if (key.equals(MERGE_KEY) && keyEvent instanceof ScalarEvent scalar && scalar.isPlain()) {
                mergeAt = mergeAt < 0 ? entries.size() : mergeAt;
                merged.addAll(mergeSources(readValue(valueEvent, path, depth), path));
                continue;
            }
            YamlNode value = readValue(valueEvent, childPath(path, key), depth + 1);
            YamlNode.Entry previous = entries.get(key);
            if (previous != null) {
                problems.error(childPath(path, key), keyAt,
                        "duplicate key '" + key + "' (first given at line " + previous.keyLocation().line() + ")");
            } else {
                entries.put(key, new YamlNode.Entry(key, keyAt, value));
            }
        }
        if (merged.isEmpty()) {
            return new YamlNode.Mapping(path, at, entries);
        }
        // The mapping's own keys win over merged ones; of several merged mappings, the first given wins.
        Map<String, YamlNode.Entry> result = new LinkedHashMap<>();
        List<YamlNode.Entry> own = new ArrayList<>(entries.values());
        own.subList(0, mergeAt).forEach(entry -> result.put(entry.key(), entry));
        for (YamlNode.Entry entry : merged) {
            if (!entries.containsKey(entry.key())) {
                result.putIfAbsent(entry.key(), entry);
            }
        }
        own.subList(mergeAt, own.size()).forEach(entry -> result.put(entry.key(), entry));
        return new YamlNode.Mapping(path, at, result);
    }

    /** The entries a merge key's value brings: a mapping's, or those of each mapping in a list. */
    private List<YamlNode.Entry> mergeSources(YamlNode value, String path) {
        List<YamlNode> sources = value instanceof YamlNode.Sequence sequence ? sequence.items() : List.of(value);
        List<YamlNode.Entry> entries = new ArrayList<>();
        for (YamlNode source : sources) {
            if (source instanceof YamlNode.Mapping mapping) {
                entries.addAll(mapping.entries().values());
            } else if (!broken || !(source instanceof YamlNode.Scalar scalar && scalar.value() == null)) {
                broken = true;
                problems.error(childPath(path, MERGE_KEY), source.location(),
                        "a merge key (<<) takes a mapping or a list of mappings, got " + source.kind());
            }
        }
        return entries;
    }

    /** A mapping key as text (as written: {@code 8080:} is "8080"), or null after reporting what is wrong. */
    private String key(Event event, String path, Location at, int depth) {
        if (event instanceof ScalarEvent scalar) {
            checkNul(scalar.getValue(), path, at);
            return pooled(scalar.getValue());
        }
        YamlNode value = readValue(event, path, depth + 1);
        if (value instanceof YamlNode.Scalar scalar && scalar.value() != null) {
            return String.valueOf(scalar.value());
        }
        if (!broken) {
            broken = true;
            problems.error(path, at, "a key must be a single value, got " + value.kind());
        }
        return null;
    }

    private YamlNode resolve(String anchor, String path, Location at, int depth) {
        YamlNode target = anchors.get(anchor);
        if (target == null) {
            broken = true;
            problems.error(path, at, open.contains(anchor)
                    ? "the alias *" + anchor + " stands inside the value it refers to, which would contain itself"
                    : "unknown alias *" + anchor + " (an alias refers to an anchor &" + anchor + " given before it)");
            return new YamlNode.Scalar(path, at, null);
        }
        if (overflow != null) {
            return new YamlNode.Scalar(path, at, null); // the bound is passed and reported: copy nothing more
        }
        YamlNode copy = copy(target, path, at, depth);
        if (overflow != null) {
            broken = true;
            problems.error(path, at, overflow);
        }
        return copy;
    }

    /**
     * The anchored value again, at {@code path}, remembering the alias. Counted against the alias bound; past
     * it (or too deep) {@link #overflow} says why, and the copy stops.
     */
    private YamlNode copy(YamlNode node, String path, Location alias, int depth) {
        if (overflow == null && ++aliasValues > MAX_ALIAS_VALUES) {
            overflow = "the aliases expand to more than " + String.format("%,d", MAX_ALIAS_VALUES)
                    + " values (aliases of aliases multiply); write the values out, or alias fewer";
        } else if (overflow == null && depth > MAX_DEPTH && !(node instanceof YamlNode.Scalar)) {
            overflow = "nested deeper than " + MAX_DEPTH + " levels through this alias";
        }
        if (overflow != null) {
            return new YamlNode.Scalar(path, alias, null);
        }
        Location at = node.location().reachedThrough(alias);
        if (node instanceof YamlNode.Scalar scalar) {
            return new YamlNode.Scalar(path, at, scalar.value());
        }
        if (node instanceof YamlNode.Sequence sequence) {
            List<YamlNode> items = new ArrayList<>(sequence.items().size());
            for (YamlNode item : sequence.items()) {
                items.add(copy(item, path + "[" + items.size() + "]", alias, depth + 1));
            }
            return new YamlNode.Sequence(path, at, items);
        }
        Map<String, YamlNode.Entry> entries = new LinkedHashMap<>();
        for (YamlNode.Entry entry : ((YamlNode.Mapping) node).entries().values()) {
            entries.put(entry.key(), new YamlNode.Entry(entry.key(), entry.keyLocation().reachedThrough(alias),
                    copy(entry.value(), childPath(path, entry.key()), alias, depth + 1)));
        }
        return new YamlNode.Mapping(path, at, entries);
    }

    /** Skips a value whose start event was just read. */
    private void skip(Event event) {
        if (event instanceof CollectionStartEvent) {
            skipRest(event);
        }
    }

    /** Skips to the end of the collection {@code start} opened, without recursion (it may be nested deep). */
    private void skipRest(Event start) {
        int open = 1;
        while (open > 0) {
            Event event = next();
            if (event instanceof CollectionStartEvent) {
                open++;
            } else if (event.is(Event.ID.MappingEnd) || event.is(Event.ID.SequenceEnd)) {
                open--;
            }
        }
    }

    private void checkNul(String text, String path, Location at) {
        if (text.indexOf('\0') >= 0) {
            problems.error(path, at, "contains a NUL character (\\0), which no command line or script can carry");
        }
    }

    /** The value as Jackson's YAML parser types it: YAML 1.1's implicit types, or the tag's. */
    private Object scalarValue(ScalarEvent scalar, String path, Location at) {
        String text = scalar.getValue();
        checkNul(text, path, at);
        String tag = scalar.getTag();
        if (tag == null || tag.equals("!")) {
            Tag type = resolver.resolve(NodeId.scalar, text, scalar.getImplicit().canOmitTagInPlainScalar());
            Object value = typed(type.getValue(), text);
            return value instanceof String string ? pooled(string) : value;
        }
        if (tag.equals(Tag.BINARY.getValue())) {
            broken = true;
            problems.error(path, at, "binary values (!!binary) have no place in a topology");
            return null;
        }
        return text.isEmpty() ? text : typed(tag, text);
    }

    private static Object typed(String tag, String text) {
        if (tag.equals(Tag.INT.getValue())) {
            return integer(text);
        }
        if (tag.equals(Tag.FLOAT.getValue())) {
            return floating(text);
        }
        if (tag.equals(Tag.BOOL.getValue())) {
            Boolean bool = bool(text);
            return bool == null ? text : bool;
        }
        if (tag.equals(Tag.NULL.getValue())) {
            return null;
        }
        return text;
    }

    private String pooled(String text) {
        if (text.length() > 32) {
            return text;
        }
        String known = pool.get(text);
        if (known != null) {
            return known;
        }
        if (pool.size() < 10_000) {
            pool.put(text, text);
        }
        return text;
    }

    /** YAML 1.1 integers: decimal, 0x hex, 0b binary, 0 octal, with underscores; sexagesimal stays text. */
    private static Object integer(String text) {
        String digits = text.replace("_", "");
        boolean negative = digits.startsWith("-");
        String unsigned = digits.startsWith("-") || digits.startsWith("+") ? digits.substring(1) : digits;
        int radix = 10;
        if (unsigned.startsWith("0x") || unsigned.startsWith("0X")) {
            radix = 16;
            unsigned = unsigned.substring(2);
        } else if (unsigned.startsWith("0b") || unsigned.startsWith("0B")) {
            radix = 2;
            unsigned = unsigned.substring(2);
        } else if (unsigned.length() > 1 && unsigned.startsWith("0")) {
            radix = 8;
            unsigned = unsigned.substring(1);
        }
        try {
            BigInteger value = new BigInteger(unsigned, radix);
            value = negative ? value.negate() : value;
            return value.bitLength() < 64 ? (Object) value.longValue() : value;
        } catch (NumberFormatException e) {
            return text; // 1:30 and the like, which Jackson reads as text too
        }
    }

    private static Object floating(String text) {
        String number = text.replace("_", "");
        String lower = number.toLowerCase();
        if (lower.endsWith(".inf")) {
            return lower.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
        }
        if (lower.equals(".nan")) {
            return Double.NaN;
        }
        try {
            return Double.parseDouble(number);
        } catch (NumberFormatException e) {
            return text;
        }
    }

    private static Boolean bool(String text) {
        return switch (text.toLowerCase()) {
            case "true", "yes", "on", "y" -> Boolean.TRUE;
            case "false", "no", "off", "n" -> Boolean.FALSE;
            default -> null;
        };
    }

    static String childPath(String parent, String key) {
        return parent.isEmpty() ? key : parent + "." + key;
    }

    private static Location location(Mark mark) {
        return mark == null ? Location.START : new Location(mark.getLine() + 1, mark.getColumn() + 1);
    }

    /** The line and column of the {@code index}-th code point of {@code text}. */
    static Location locationOf(String text, int index) {
        int line = 1;
        int column = 1;
        for (int i = 0, point = 0; i < text.length() && point < index; point++) {
            int c = text.codePointAt(i);
            i += Character.charCount(c);
            if (c == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
        }
        return new Location(line, column);
    }
}
