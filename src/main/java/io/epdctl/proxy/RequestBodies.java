package io.epdctl.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
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

    /** Every image or video part of a chat request, in the order of its messages and parts. */
    static List<ObjectNode> multimodalItems(ObjectNode body) {
        List<ObjectNode> items = new ArrayList<>();
        for (JsonNode message : body.path("messages")) {
            for (JsonNode part : message.path("content")) {
                if (part instanceof ObjectNode item && MULTIMODAL_PARTS.contains(item.path("type").asText())) {
                    items.add(item);
                }
            }
        }
        return items;
    }

    /**
     * Fan-out: one encoder request per image or video, as vLLM's disagg_epd_proxy.py builds them: the model and
     * one user message holding only that item (no text: the encoder's work is the item's embedding, which is
     * stored under the item's own hash, whatever else the request says), one token, not streamed. Unlike the
     * script it keeps {@code mm_processor_kwargs}, which change the embedding and so its hash.
     */
    static List<ObjectNode> oneItemEach(ObjectNode original) {
        List<ObjectNode> requests = new ArrayList<>();
        for (ObjectNode item : multimodalItems(original)) {
            ObjectNode request = ProxyJson.MAPPER.createObjectNode();
            if (original.has("model")) {
                request.set("model", original.get("model"));
            }
            request.putArray("messages").addObject().put("role", "user").putArray("content").add(item.deepCopy());
            if (original.has("mm_processor_kwargs")) {
                request.set("mm_processor_kwargs", original.get("mm_processor_kwargs").deepCopy());
            }
            if (original.has("max_completion_tokens")) {
                request.put("max_completion_tokens", 1);
            }
            requests.add(oneToken(request));
        }
        return requests;
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
     * The request as a prefiller of the pull flow (MooncakeConnectorV1) gets it, as vLLM-Ascend's load-balance proxy
     * sends it: one token, with {@code kv_transfer_params} asking it to keep the KV cache for a remote decoder.
     */
    static ObjectNode pullPrefill(ObjectNode original) {
        ObjectNode copy = oneToken(original);
        ObjectNode params = copy.putObject("kv_transfer_params");
        params.put("do_remote_decode", true);
        params.put("do_remote_prefill", false);
        params.putNull("remote_engine_id");
        params.putNull("remote_block_ids");
        params.putNull("remote_host");
        params.putNull("remote_port");
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
