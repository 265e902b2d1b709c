package io.epdctl.sim.transfer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.Set;

/** Reads a transfer config's JSON as vLLM's pydantic dataclasses do: unknown keys and wrong types rejected. */
final class ConfigJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ConfigJson() {
    }

    static ObjectNode object(String text, String configClass, Set<String> knownKeys) throws TransferConfigError {
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new TransferConfigError("JSONDecodeError: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) {
            throw new TransferConfigError(problem(configClass, "", "Input should be an object"));
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!knownKeys.contains(name)) {
                throw new TransferConfigError(problem(configClass, name, "Unexpected keyword argument"));
            }
        }
        return (ObjectNode) node;
    }

    static String string(ObjectNode node, String key, String configClass, String fallback) throws TransferConfigError {
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) {
            return fallback;
        }
        if (!value.isTextual()) {
            throw new TransferConfigError(problem(configClass, key, "Input should be a valid string"));
        }
        return value.asText();
    }

    static String oneOf(ObjectNode node, String key, String configClass, Set<String> allowed) throws TransferConfigError {
        String value = string(node, key, configClass, null);
        if (value == null || !allowed.contains(value)) {
            throw new TransferConfigError(problem(configClass, key,
                    "Input should be " + String.join(" or ", allowed.stream().sorted().map(a -> "'" + a + "'").toList())
                            + " [input_value=" + node.get(key) + "]"));
        }
        return value;
    }

    static ObjectNode object(ObjectNode node, String key, String configClass) throws TransferConfigError {
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) {
            return JSON.createObjectNode();
        }
        if (!value.isObject()) {
            throw new TransferConfigError(problem(configClass, key, "Input should be a valid dictionary"));
        }
        return (ObjectNode) value;
    }

    static String problem(String configClass, String field, String message) {
        return "ValidationError: 1 validation error for " + configClass + (field.isEmpty() ? "" : ": " + field)
                + ": " + message;
    }
}
