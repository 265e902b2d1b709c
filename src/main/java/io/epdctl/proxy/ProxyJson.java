package io.epdctl.proxy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.buffer.Buffer;
import java.util.LinkedHashMap;
import java.util.Map;

/** The proxy's JSON: one mapper for every event loop (it is thread-safe), and the bodies the proxy writes itself. */
final class ProxyJson {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private ProxyJson() {
    }

    /** An OpenAI-style error body. */
    static String error(int status, String message) {
        try {
            Map<String, Object> error = new LinkedHashMap<>();
            error.put("message", message);
            error.put("type", status >= 500 ? "upstream_error" : "invalid_request_error");
            error.put("code", status);
            return MAPPER.writeValueAsString(Map.of("error", error));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("a map of strings and numbers always converts to JSON", e);
        }
    }

    static Buffer buffer(Object value) {
        try {
            return Buffer.buffer(MAPPER.writeValueAsBytes(value));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("not convertible to JSON: " + value, e);
        }
    }
}
