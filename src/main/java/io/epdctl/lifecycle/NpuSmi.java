package io.epdctl.lifecycle;

import io.epdctl.transport.CommandResult;
import io.epdctl.transport.Transport;
import io.epdctl.transport.TransportException;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the table {@code npu-smi info} prints: the NPUs of the host (first section, a row per NPU whose
 * first cell is {@code ID NAME}), and the processes using them (the section headed {@code Process id},
 * a row per process whose first cell is {@code NPU CHIP}).
 */
final class NpuSmi {
    private static final Pattern NPU_ROW = Pattern.compile("^\\|\\s*(\\d+)\\s+[\\w.-]+\\s*\\|");
    private static final Pattern PROCESS_ROW = Pattern.compile("^\\|\\s*(\\d+)\\s+\\d+\\s*\\|\\s*(\\d+)\\s*\\|");

    record Report(Set<Integer> npus, Map<Integer, Long> busy) {
    }

    private NpuSmi() {
    }

    /** The host's NPUs per npu-smi; empty when npu-smi is not installed (no Ascend driver there). */
    static Optional<Report> read(Transport transport) throws TransportException {
        CommandResult result = transport.run("command -v npu-smi >/dev/null || exit 127; npu-smi info", Duration.ofSeconds(30));
        if (result.exitCode() == 127) {
            return Optional.empty();
        }
        if (!result.succeeded()) {
            throw new TransportException(transport.host() + ": npu-smi info failed: " + result.stderr().strip());
        }
        return Optional.of(parse(result.stdout()));
    }

    static Report parse(String output) {
        Set<Integer> npus = new TreeSet<>();
        Map<Integer, Long> busy = new TreeMap<>();
        boolean processSection = false;
        for (String line : output.split("\n")) {
            if (line.contains("Process id")) {
                processSection = true;
                continue;
            }
            Matcher matcher = (processSection ? PROCESS_ROW : NPU_ROW).matcher(line);
            if (!matcher.find()) {
                continue;
            }
            if (processSection) {
                busy.putIfAbsent(Integer.parseInt(matcher.group(1)), Long.parseLong(matcher.group(2)));
            } else {
                npus.add(Integer.parseInt(matcher.group(1)));
            }
        }
        return new Report(npus, busy);
    }
}
