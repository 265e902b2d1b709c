package io.epdctl.lifecycle;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Base64;
import javax.imageio.ImageIO;

/**
 * The one real request {@code up} sends through the proxy before declaring the deployment ready: a text
 * prompt with a small generated image, so that the encoder, the EC hand-off and (with P/D) the KV
 * hand-off are all exercised.
 */
public final class SmokeRequest {
    private SmokeRequest() {
    }

    /** A chat completion body for {@code model}, with an image given as a data URL. */
    public static String chatBody(String model) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode body = json.createObjectNode();
        body.put("model", model);
        body.put("max_tokens", 8);
        body.put("stream", false);
        ArrayNode content = json.createArrayNode();
        content.addObject().put("type", "image_url").putObject("image_url").put("url", pngDataUrl());
        content.addObject().put("type", "text").put("text", "epdctl readiness check: what colour is this square?");
        body.putArray("messages").addObject().put("role", "user").set("content", content);
        return body.toString();
    }

    /** A 32x32 PNG: small enough for any encoder, real enough to be decoded. */
    static String pngDataUrl() {
        BufferedImage image = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
        Graphics2D graphics = image.createGraphics();
        graphics.setColor(new Color(0xE0, 0x40, 0x30));
        graphics.fillRect(0, 0, 32, 32);
        graphics.setColor(Color.WHITE);
        graphics.fillRect(8, 8, 16, 16);
        graphics.dispose();
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", png);
        } catch (IOException e) {
            throw new UncheckedIOException("writing a PNG to memory failed", e);
        }
        return "data:image/png;base64," + Base64.getEncoder().encodeToString(png.toByteArray());
    }
}
