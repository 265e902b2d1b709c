package io.epdctl.sim;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;

/** Deterministic "model output": the same prompt always gives the same tokens, different prompts differ. */
final class TextGenerator {
    private static final String[] VOCABULARY = ("the a image shows small large red blue green cat dog tree house "
            + "sky river road person car light dark left right center top bottom with and of in on near far "
            + "bright soft window door table chair book flower water stone cloud sun moon field city street "
            + "picture color shape line edge corner pattern scene view").split(" ");

    private TextGenerator() {
    }

    /** {@code count} tokens, each a word followed by a space (so concatenated chunks read as text). */
    static List<String> tokens(String prompt, int count) {
        byte[] seed = sha256(prompt.getBytes(StandardCharsets.UTF_8));
        List<String> tokens = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int mix = ((seed[i % seed.length] & 0xff) * 31 + i * 17 + (seed[(i * 7 + 3) % seed.length] & 0xff));
            tokens.add(VOCABULARY[mix % VOCABULARY.length] + " ");
        }
        return tokens;
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
