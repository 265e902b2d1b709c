package io.epdctl.topology;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/** Reads YAML text into a {@link YamlNode} tree, using Jackson's streaming YAML parser for the positions. */
final class YamlTreeReader {
    private final YAMLFactory factory = new YAMLFactory();
    private final Problems problems;

    YamlTreeReader(Problems problems) {
        this.problems = problems;
    }

    /** The document's root, or null when the text is not valid YAML (the problem is reported). */
    YamlNode read(String text) {
        try (JsonParser parser = factory.createParser(text)) {
            JsonToken first = parser.nextToken();
            if (first == null) {
                problems.error("", Location.START, "the file is empty");
                return null;
            }
            YamlNode root = readValue(parser, "");
            if (parser.nextToken() != null) {
                problems.error("", location(parser.currentTokenLocation()), "only one YAML document is allowed");
            }
            return root;
        } catch (JsonProcessingException e) {
            if (e.getCause() instanceof MarkedYAMLException yaml && yaml.getProblemMark() != null) {
                // SnakeYAML's own message spans several lines with a drawing of the spot; keep the gist.
                Mark mark = yaml.getProblemMark();
                String context = yaml.getContext() == null ? "" : " (" + yaml.getContext().strip() + ")";
                problems.error("", new Location(mark.getLine() + 1, mark.getColumn() + 1),
                        "invalid YAML: " + yaml.getProblem() + context);
            } else {
                JsonLocation at = e.getLocation();
                problems.error("", at == null ? Location.START : location(at),
                        "invalid YAML: " + e.getOriginalMessage().lines().findFirst().orElse(""));
            }
            return null;
        } catch (IOException e) {
            throw new IllegalStateException("reading from a string failed", e);
        }
    }

    private YamlNode readValue(JsonParser parser, String path) throws IOException {
        Location at = location(parser.currentTokenLocation());
        JsonToken token = parser.currentToken();
        switch (token) {
            case START_OBJECT:
                return readMapping(parser, path, at);
            case START_ARRAY:
                List<YamlNode> items = new ArrayList<>();
                while (parser.nextToken() != JsonToken.END_ARRAY) {
                    items.add(readValue(parser, path + "[" + items.size() + "]"));
                }
                return new YamlNode.Sequence(path, at, items);
            case VALUE_STRING:
                return new YamlNode.Scalar(path, at, parser.getText());
            case VALUE_NUMBER_INT:
                return new YamlNode.Scalar(path, at, parser.getLongValue());
            case VALUE_NUMBER_FLOAT:
                return new YamlNode.Scalar(path, at, parser.getDoubleValue());
            case VALUE_TRUE:
            case VALUE_FALSE:
                return new YamlNode.Scalar(path, at, parser.getBooleanValue());
            case VALUE_NULL:
                return new YamlNode.Scalar(path, at, null);
            default:
                throw new JsonProcessingException("unexpected " + token, parser.currentTokenLocation()) {
                    private static final long serialVersionUID = 1L;
                };
        }
    }

    private YamlNode.Mapping readMapping(JsonParser parser, String path, Location at) throws IOException {
        Map<String, YamlNode.Entry> entries = new LinkedHashMap<>();
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String key = parser.currentName();
            Location keyAt = location(parser.currentTokenLocation());
            parser.nextToken();
            YamlNode value = readValue(parser, childPath(path, key));
            YamlNode.Entry previous = entries.get(key);
            if (previous != null) {
                problems.error(childPath(path, key), keyAt,
                        "duplicate key '" + key + "' (first given at line " + previous.keyLocation().line() + ")");
            } else {
                entries.put(key, new YamlNode.Entry(key, keyAt, value));
            }
        }
        return new YamlNode.Mapping(path, at, entries);
    }

    static String childPath(String parent, String key) {
        return parent.isEmpty() ? key : parent + "." + key;
    }

    private static Location location(JsonLocation at) {
        return new Location(Math.max(1, at.getLineNr()), Math.max(1, at.getColumnNr()));
    }
}
