package io.epdctl.lifecycle;

import java.util.HashMap;
import java.util.Map;

/** Reads the Prometheus text format far enough for status: each metric's value, summed over its labels. */
final class PrometheusText {
    private PrometheusText() {
    }

    static Map<String, Double> parse(String text) {
        Map<String, Double> values = new HashMap<>();
        for (String line : text.split("\n")) {
            String sample = line.strip();
            if (sample.isEmpty() || sample.startsWith("#")) {
                continue;
            }
            int labels = sample.indexOf('{');
            int space = labels >= 0 ? sample.indexOf(' ', sample.indexOf('}', labels)) : sample.indexOf(' ');
            if (space < 0) {
                continue;
            }
            String name = sample.substring(0, labels >= 0 ? labels : space);
            String[] rest = sample.substring(space + 1).strip().split("\\s+");
            try {
                values.merge(name, Double.parseDouble(rest[0]), Double::sum);
            } catch (NumberFormatException e) {
                // a sample we cannot read is left out, not fatal: status shows what it can
            }
        }
        return values;
    }
}
