package io.epdctl.lifecycle;

import io.epdctl.transport.TransportException;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the table {@code npu-smi info} prints: the NPUs of the host with their chip names (first section),
 * and the processes using them (the section headed {@code Process id}, a row per process whose first cell
 * is {@code NPU CHIP}).
 *
 * <p>Two layouts. Atlas A2 (910B): a row {@code | ID NAME | Health ...} per NPU, then {@code | 0 | Bus-Id ...};
 * the device id is the NPU id. Atlas A3 (and others with several chips per NPU): the header's first cell reads
 * {@code Chip Phy-ID}; each chip has a row {@code | NPU NAME | ...} then {@code | CHIP PHY-ID | Bus-Id ...};
 * the device id ({@code ASCEND_RT_VISIBLE_DEVICES}, {@code hccn_tool -i}) is the chip's id, and a process row
 * names its NPU and chip.
 */
final class NpuSmi {
    /** The first cell of a row: one number (A2 chip row), or a number and a word (NPU row, or chip and its id). */
    private static final Pattern FIRST_CELL = Pattern.compile("^\\|\\s*(\\d+)(?:\\s+([\\w.-]+))?\\s*\\|");
    private static final Pattern PROCESS_ROW = Pattern.compile("^\\|\\s*(\\d+)\\s+(\\d+)\\s*\\|\\s*(\\d+)\\s*\\|");
    /** The header of a layout with a row per chip: {@code | Chip    Phy-ID |} (or {@code Device} on older cards). */
    private static final Pattern PER_CHIP_HEADER = Pattern.compile("^\\|\\s*Chip\\s+[A-Za-z][\\w-]*\\s*\\|");

    /** A chip as npu-smi names it, and its family: what must match between the two ends of a KV transfer. */
    record Chip(String name, String family) {
        String describe() {
            return family.equals(name) ? name : family + " (" + name + ")";
        }
    }

    record Report(Set<Integer> npus, Map<Integer, Long> busy, Map<Integer, Chip> chips) {
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
        Map<Integer, Chip> chips = new TreeMap<>();
        Map<Integer, Long> busy = new TreeMap<>();
        Map<String, Integer> deviceOfChip = new HashMap<>(); // "NPU:CHIP" -> device id, per-chip layout
        boolean perChip = false;
        boolean processSection = false;
        int npu = -1;
        String name = null;
        for (String line : output.split("\n")) {
            if (line.contains("Process id")) {
                processSection = true;
                continue;
            }
            if (processSection) {
                Matcher row = PROCESS_ROW.matcher(line);
                if (row.find()) {
                    int card = Integer.parseInt(row.group(1));
                    int device = perChip ? deviceOfChip.getOrDefault(card + ":" + row.group(2), -1) : card;
                    if (device >= 0) {
                        busy.putIfAbsent(device, Long.parseLong(row.group(3)));
                    }
                }
                continue;
            }
            if (PER_CHIP_HEADER.matcher(line).find()) {
                perChip = true;
                continue;
            }
            Matcher cell = FIRST_CELL.matcher(line);
            if (!cell.find()) {
                continue;
            }
            String second = cell.group(2);
            if (second == null) {
                continue; // the A2 chip row under its NPU's row
            }
            if (perChip && second.chars().allMatch(Character::isDigit) && name != null) {
                int device = Integer.parseInt(second);
                chips.put(device, chip(name, true));
                deviceOfChip.put(npu + ":" + cell.group(1), device);
            } else {
                npu = Integer.parseInt(cell.group(1));
                name = second;
                if (!perChip) {
                    chips.put(npu, chip(name, false));
                }
            }
        }
        return new Report(new java.util.TreeSet<>(chips.keySet()), busy, chips);
    }

    /** A2 chips are named 910B1..910B4; A3's (910_93) are listed per chip as Ascend910. */
    static Chip chip(String name, boolean perChip) {
        String upper = name.toUpperCase(java.util.Locale.ROOT);
        if (upper.startsWith("910B")) {
            return new Chip(name, "Atlas A2");
        }
        if (upper.contains("910_93") || (perChip && upper.equals("ASCEND910"))) {
            return new Chip(name, "Atlas A3");
        }
        return new Chip(name, name);
    }
}
