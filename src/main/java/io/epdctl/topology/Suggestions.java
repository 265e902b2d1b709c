package io.epdctl.topology;

import java.util.Collection;
import java.util.Comparator;
import java.util.Optional;

/** "Did you mean" for misspelt keys, roles and host names. */
final class Suggestions {
    private Suggestions() {
    }

    /** Beyond this many candidates no suggestion is looked for: the look-up would cost more than it helps. */
    static final int MAX_CANDIDATES = 200;

    static Optional<String> closest(String given, Collection<String> known) {
        if (known.size() > MAX_CANDIDATES || given.length() > 200) {
            return Optional.empty();
        }
        return known.stream()
                .filter(candidate -> distance(given, candidate) <= Math.max(2, candidate.length() / 3))
                .min(Comparator.comparingInt(candidate -> distance(given, candidate)));
    }

    /** ", did you mean 'x'?" or a list of what is allowed, to append to a message. */
    static String hint(String given, Collection<String> known) {
        return closest(given, known)
                .map(candidate -> ", did you mean '" + candidate + "'?")
                .orElse(known.isEmpty() ? "" : known.size() > 20 ? " (none of the " + known.size() + " declared)"
                        : " (expected one of: " + String.join(", ", known) + ")");
    }

    /** Levenshtein distance, case-insensitive and treating '_' as '-' (YAML authors mix them). */
    static int distance(String a, String b) {
        String x = a.toLowerCase().replace('_', '-');
        String y = b.toLowerCase().replace('_', '-');
        int[] previous = new int[y.length() + 1];
        int[] current = new int[y.length() + 1];
        for (int j = 0; j <= y.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= x.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= y.length(); j++) {
                int substitution = previous[j - 1] + (x.charAt(i - 1) == y.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[y.length()];
    }
}
