package io.epdctl.sim;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * What a request asks about: its text, the images it carries (by URL or data URL, as sent), and a token count
 * (one per word, {@link #TOKENS_PER_IMAGE} per image).
 */
record Prompt(String text, List<String> images, int tokens) {
    static final int TOKENS_PER_IMAGE = 64;

    /** {@code /v1/chat/completions}: every message's text parts and image_url parts. */
    static Prompt ofChat(JsonNode body) throws BadRequest {
        JsonNode messages = body.get("messages");
        if (messages == null || !messages.isArray() || messages.isEmpty()) {
            throw new BadRequest("messages: Field required (a non-empty list)");
        }
        StringBuilder text = new StringBuilder();
        List<String> images = new ArrayList<>();
        for (JsonNode message : messages) {
            JsonNode content = message.get("content");
            if (content == null || content.isNull()) {
                continue;
            }
            if (content.isTextual()) {
                text.append(content.asText()).append('\n');
            } else if (content.isArray()) {
                for (JsonNode part : content) {
                    switch (part.path("type").asText()) {
                        case "text" -> text.append(part.path("text").asText()).append('\n');
                        case "image_url" -> images.add(url(part, "image_url"));
                        case "video_url" -> images.add(url(part, "video_url"));
                        default -> throw new BadRequest("unsupported content part type: " + part.path("type"));
                    }
                }
            } else {
                throw new BadRequest("message content must be a string or a list of parts");
            }
        }
        return of(text.toString(), images);
    }

    /** {@code /v1/completions}: a prompt string or a list of strings (treated as one). */
    static Prompt ofCompletion(JsonNode body) throws BadRequest {
        JsonNode prompt = body.get("prompt");
        if (prompt == null || prompt.isNull()) {
            throw new BadRequest("prompt: Field required");
        }
        if (prompt.isTextual()) {
            return of(prompt.asText(), List.of());
        }
        if (prompt.isArray()) {
            StringBuilder text = new StringBuilder();
            prompt.forEach(part -> text.append(part.asText()).append('\n'));
            return of(text.toString(), List.of());
        }
        throw new BadRequest("prompt must be a string or a list of strings");
    }

    private static String url(JsonNode part, String field) throws BadRequest {
        JsonNode url = part.path(field).path("url");
        if (!url.isTextual() || url.asText().isEmpty()) {
            throw new BadRequest(field + ".url is required");
        }
        return url.asText();
    }

    private static Prompt of(String text, List<String> images) {
        String stripped = text.strip();
        int words = stripped.isEmpty() ? 0 : stripped.split("\\s+").length;
        return new Prompt(stripped, List.copyOf(images), 1 + words + TOKENS_PER_IMAGE * images.size());
    }

    /** A request the server answers with 400, as vLLM's validation would. */
    static final class BadRequest extends Exception {
        BadRequest(String message) {
            super(message);
        }
    }
}
