package io.epdctl.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * The request bodies of the benchmark: streaming chat requests of a client, as JSON lines. Text only; one
 * picture repeated in every request (all encoder saves go to the same file); or distinct pictures (a pool of
 * real PNGs, each used once per round, so no two requests in flight carry the same one).
 */
enum ChatBodies {
    TEXT("text"), REPEATED_IMAGE("repeated image"), DISTINCT_IMAGES("distinct images");

    static final String MODEL = "qwenvl";
    static final int MAX_TOKENS = 16;
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String label;

    ChatBodies(String label) {
        this.label = label;
    }

    String label() {
        return label;
    }

    boolean hasImages() {
        return this != TEXT;
    }

    /** The bodies, one JSON object per string; {@code distinct} is the pool size for distinct images. */
    List<String> bodies(int distinct) {
        return switch (this) {
            case TEXT -> List.of(chat(null));
            case REPEATED_IMAGE -> List.of(chat(png(0)));
            case DISTINCT_IMAGES -> {
                List<String> bodies = new ArrayList<>(distinct);
                for (int i = 0; i < distinct; i++) {
                    bodies.add(chat(png(i + 1)));
                }
                yield bodies;
            }
        };
    }

    private static String chat(String imageDataUrl) {
        ObjectNode request = JSON.createObjectNode().put("model", MODEL).put("stream", true).put("max_tokens", MAX_TOKENS);
        ArrayNode content = request.putArray("messages").addObject().put("role", "user").putArray("content");
        if (imageDataUrl != null) {
            content.addObject().put("type", "image_url").putObject("image_url").put("url", imageDataUrl);
        }
        content.addObject().put("type", "text").put("text", imageDataUrl != null ? "Describe this image."
                : "Tell me a story about a proxy.");
        return request.toString();
    }

    /** A 16x16 PNG whose colour encodes {@code n}: a real picture (the upstream proxy opens it to size it). */
    private static String png(int n) {
        BufferedImage image = new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 16; y++) {
            for (int x = 0; x < 16; x++) {
                image.setRGB(x, y, n & 0xFFFFFF);
            }
        }
        image.setRGB(0, 0, n >>> 24);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", png);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return "data:image/png;base64," + Base64.getEncoder().encodeToString(png.toByteArray());
    }
}
