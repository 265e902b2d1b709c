package io.epdctl.topology;

import java.util.Map;

/** How encoders hand image embeddings to their consumers: a directory that all of them see. */
public record EcTransfer(String connector, String sharedStoragePath, Map<String, Object> extraConfig) {
    public static final String EXAMPLE_CONNECTOR = "ECExampleConnector";
}
