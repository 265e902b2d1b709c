package io.epdctl.lifecycle;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Why a proxy is not ready, in a few words, from its health answer: epdctl's proxy lists per role how many
 * backends are healthy and which are down and why; the operator reads the roles without a healthy backend
 * and the first few backends that are down, not the JSON.
 */
final class ProxyHealth {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DOWN_SHOWN = 3;
    private static final int OTHER_BODY = 80;

    private ProxyHealth() {
    }

    /** The reason for an answer other than 200: {@code no healthy decode (0 of 1); down: decode 127.0.0.1:9 (refused)}. */
    static String reason(int status, String body) {
        JsonNode health = parse(body);
        if (health == null || !health.path("roles").isObject()) {
            String text = body.strip().replaceAll("\\s+", " ");
            return "/health answers " + status + (text.isEmpty() ? ""
                    : ": " + (text.length() <= OTHER_BODY ? text : text.substring(0, OTHER_BODY) + "..."));
        }
        List<String> unserved = new ArrayList<>();
        for (Map.Entry<String, JsonNode> role : health.path("roles").properties()) {
            long healthy = role.getValue().path("healthy").asLong();
            long total = role.getValue().path("total").asLong();
            if (total > 0 && healthy == 0) {
                unserved.add(role.getKey() + " (0 of " + total + ")");
            }
        }
        List<String> down = new ArrayList<>();
        health.path("down").forEach(item -> down.add(item.asText()));
        StringBuilder reason = new StringBuilder(unserved.isEmpty() ? "unhealthy" : "no healthy " + String.join(", ", unserved));
        if (!down.isEmpty()) {
            reason.append("; down: ").append(String.join(", ", down.subList(0, Math.min(DOWN_SHOWN, down.size()))));
            if (down.size() > DOWN_SHOWN) {
                reason.append(" and ").append(down.size() - DOWN_SHOWN).append(" more");
            }
        }
        return reason.toString();
    }

    private static JsonNode parse(String body) {
        try {
            return JSON.readTree(body);
        } catch (JsonProcessingException e) {
            return null;
        }
    }
}
