package io.epdctl.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the proxy reads from and changes in OpenAI request bodies. */
final class RequestBodies {
    /** Content parts an encoder must turn into embeddings first. The URL itself is never opened here. */
    private static final Set<String> MULTIMODAL_PARTS = Set.of("image_url", "video_url");
    private static final Pattern UUID = Pattern.compile(
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    private RequestBodies() {
    }

    /** A chat request with an image or video part (by data URL, file path or http(s) URL alike). */
    static boolean hasMultimodalInput(ObjectNode body) {
        for (JsonNode message : body.path("messages")) {
            for (JsonNode part : message.path("content")) {
                if (MULTIMODAL_PARTS.contains(part.path("type").asText())) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * The request as the encoder and the prefiller get it: one token, not streamed. The encoder only
     * has to produce embeddings and the prefiller only the KV cache; decoding happens elsewhere.
     */
    static ObjectNode oneToken(ObjectNode original) {
        ObjectNode copy = original.deepCopy();
        copy.put("stream", false);
        copy.put("max_tokens", 1);
        copy.put("min_tokens", 1);
        if (copy.has("max_completion_tokens")) {
            copy.put("max_completion_tokens", 1);
        }
        copy.remove("stream_options");
        return copy;
    }

    /**
     * The proxy's request id inside the id vLLM reports at the metaserver ({@code chatcmpl-ID},
     * {@code cmpl-ID-0}, possibly with a suffix vLLM adds); null when there is none.
     */
    static String proxyRequestId(String backendRequestId) {
        if (backendRequestId == null) {
            return null;
        }
        Matcher matcher = UUID.matcher(backendRequestId);
        return matcher.find() ? matcher.group() : null;
    }
}
