package io.epdctl.state;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * The versions of {@code state.json}. The file carries {@code "format"}; one without it was written
 * before formats were numbered (format 1, whose hosts were the topology's host records). An older format
 * is brought up to the current one as it is read (the next write stores the current one); a newer or
 * unknown one is refused, so that an older epdctl never drops what it does not understand.
 */
final class StateFormat {
    /**
     * The format this epdctl writes. 2: hosts as {@link HostRecord} ({@code local} instead of {@code transport}).
     * 3: each process also records its {@link ProcessSpec}; a format 2 record reads with none (null).
     */
    static final int CURRENT = 3;
    static final String FIELD = "format";

    private StateFormat() {
    }

    /** {@code tree} as the current format, without the format field; {@code file} names it in messages. */
    static ObjectNode upgrade(Path file, ObjectNode tree) throws StateFormatException {
        JsonNode format = tree.remove(FIELD);
        if (format == null) {
            return fromFormat1(file, tree);
        }
        if (!format.canConvertToExactIntegral() || format.asInt() < 1) {
            throw new StateFormatException(file + " has an unknown state format " + format + "; it was not written by "
                    + "epdctl: move it away (or remove it) once nothing of the deployment runs");
        }
        if (format.asInt() > CURRENT) {
            throw new StateFormatException(file + " has state format " + format.asInt() + ", newer than this epdctl reads ("
                    + CURRENT + "): it was written by a newer epdctl; run that one (its `down` stops the deployment)");
        }
        // Format 2 differs from 3 only by the processes' spec, which reads as null where it is absent.
        return format.asInt() == 1 ? fromFormat1(file, tree) : tree;
    }

    /** Format 1 kept each host as the topology had it: {@code transport: LOCAL|SSH} and its {@code npus}. */
    private static ObjectNode fromFormat1(Path file, ObjectNode tree) throws StateFormatException {
        JsonNode hosts = tree.get("hosts");
        if (hosts == null || !hosts.isObject()) {
            throw unreadable(file, "it has no hosts");
        }
        for (Iterator<Map.Entry<String, JsonNode>> entries = hosts.fields(); entries.hasNext();) {
            Map.Entry<String, JsonNode> entry = entries.next();
            if (!(entry.getValue() instanceof ObjectNode host)) {
                throw unreadable(file, "host " + entry.getKey() + " is not a record");
            }
            String transport = host.path("transport").asText();
            if (!transport.equals("LOCAL") && !transport.equals("SSH")) {
                throw unreadable(file, "host " + entry.getKey() + " has no transport LOCAL or SSH");
            }
            host.remove("transport");
            host.remove("npus");
            host.put("local", transport.equals("LOCAL"));
        }
        return tree;
    }

    private static StateFormatException unreadable(Path file, String why) {
        return new StateFormatException(file + " has no format version, as epdctl's state files before format 2, but "
                + "cannot be read as one (" + why + "): move it away (or remove it) once nothing of the deployment runs");
    }
}
