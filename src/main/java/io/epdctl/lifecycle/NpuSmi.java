package io.epdctl.lifecycle;

import io.epdctl.transport.TransportException;
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

    /** The lines {@link HostCommands#npuSmi} prints when npu-smi is not there, and after its output when it failed. */
    static final String ABSENT = "epdctl: npu-smi is not installed";
    static final String FAILED = "epdctl: npu-smi info failed";

    /** What {@link HostCommands#npuSmi} printed on {@code host}: the NPUs, or empty when npu-smi is not installed (no Ascend driver there). */
    static Optional<Report> interpret(String host, String output) throws TransportException {
        String text = output.strip();
        if (text.equals(ABSENT)) {
            return Optional.empty();
        }
        if (text.endsWith(FAILED)) {
            throw new TransportException(host + ": npu-smi info failed: " + text.substring(0, text.length() - FAILED.length()).strip());
        }
        return Optional.of(parse(text));
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
