package io.epdctl.lifecycle;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What {@code hccn_tool} says of the NPUs' own network ports (the RDMA links HCCL and the KV transfer use
 * between hosts): per device, {@code hccn_tool -i N -link -g} ("link status: UP" when healthy) and
 * {@code hccn_tool -i N -net_health -g} ("net health status: Success"), the checks of vLLM-Ascend's
 * multi-node tutorial. Read from {@link HostCommands#hccn}'s report lines.
 */
final class NpuLinks {
    /** The report of a host without hccn_tool. */
    static final String ABSENT = "absent";

    /** One device's answers, as hccn_tool printed them (on one line). */
    record Link(int device, String link, String health) {
        boolean linkUp() {
            return value(link, "link status").equalsIgnoreCase("UP");
        }

        boolean healthy() {
            return value(health, "net health status").equalsIgnoreCase("Success");
        }

        /** What is wrong, or empty when the link is up and healthy. */
        Optional<String> problem() {
            if (linkUp() && healthy()) {
                return Optional.empty();
            }
            StringBuilder why = new StringBuilder("NPU " + device + ":");
            if (!linkUp()) {
                why.append(" hccn_tool -i ").append(device).append(" -link -g says '").append(link).append("' (want link status: UP)");
            }
            if (!healthy()) {
                why.append(" hccn_tool -i ").append(device).append(" -net_health -g says '").append(health)
                        .append("' (want net health status: Success)");
            }
            return Optional.of(why.toString());
        }
    }

    private NpuLinks() {
    }

    /** The word after {@code key:} in {@code text}, whatever its case; empty if there is none. */
    static String value(String text, String key) {
        String lower = text.toLowerCase(Locale.ROOT);
        int at = lower.indexOf(key + ":");
        if (at < 0) {
            return "";
        }
        String rest = text.substring(at + key.length() + 1).strip();
        int end = 0;
        while (end < rest.length() && !Character.isWhitespace(rest.charAt(end))) {
            end++;
        }
        return rest.substring(0, end);
    }

    /**
     * The reports ({@code DEVICE link TEXT}, {@code DEVICE health TEXT}, or {@link #ABSENT}) as links per
     * device; empty when hccn_tool is not installed.
     */
    static Optional<Map<Integer, Link>> parse(List<String> reports) {
        if (reports.contains(ABSENT)) {
            return Optional.empty();
        }
        Map<Integer, String[]> answers = new TreeMap<>();
        for (String report : reports) {
            String[] fields = report.split(" ", 3);
            if (fields.length < 2 || !fields[0].matches("\\d{1,4}")) {
                continue;
            }
            String[] pair = answers.computeIfAbsent(Integer.parseInt(fields[0]), device -> new String[] {"", ""});
            String text = fields.length == 3 ? fields[2].strip() : "";
            if (fields[1].equals("link")) {
                pair[0] = text;
            } else if (fields[1].equals("health")) {
                pair[1] = text;
            }
        }
        Map<Integer, Link> links = new TreeMap<>();
        answers.forEach((device, pair) -> links.put(device, new Link(device, pair[0], pair[1])));
        return Optional.of(links);
    }
}
