package io.epdctl.topology;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Collects every problem found in one file, so that all are reported at once. Problems of one kind are
 * summarised: the first {@link #SHOWN_PER_KIND} in file order, then one line that counts the rest, so that
 * a file with 40,000 clashing nodes gets a report of a few lines rather than of 40,000 (or 40,000 squared).
 */
final class Problems {
    static final int SHOWN_PER_KIND = 5;

    private static final Pattern INDEX = Pattern.compile("\\[\\d+]");
    private static final Pattern QUOTED = Pattern.compile("'[^']*'");
    private static final Pattern NUMBER = Pattern.compile("\\d+");

    /**
     * What makes problems "the same kind", and how the summary counts the ones not shown: "and 39,990 more "
     * + {@code counted}. Without one, problems at the same path (list indices aside) whose messages differ
     * only in names and numbers are one kind.
     */
    record Kind(String key, String counted) {
    }

    /** One kind's problems: the first few in file order, kept; the rest only counted. */
    private static final class Group {
        final List<Problem> first = new ArrayList<>(); // the SHOWN_PER_KIND + 1 earliest, in file order
        final String counted;
        int count;
        int lastLine;

        Group(String counted) {
            this.counted = counted;
        }

        void add(Problem problem) {
            count++;
            lastLine = Math.max(lastLine, problem.location().line());
            int i = first.size();
            while (i > 0 && IN_FILE_ORDER.compare(first.get(i - 1), problem) > 0) {
                i--;
            }
            if (i <= SHOWN_PER_KIND) {
                first.add(i, problem);
                if (first.size() > SHOWN_PER_KIND + 1) {
                    first.remove(first.size() - 1);
                }
            }
        }
    }

    private static final Comparator<Problem> IN_FILE_ORDER = Comparator.comparingInt((Problem p) -> p.location().line())
            .thenComparingInt(p -> p.location().column());

    private final Map<String, Group> groups = new LinkedHashMap<>();
    private int errors;

    void error(String path, Location at, String message) {
        add(Problem.Severity.ERROR, path, at, message, null);
    }

    void error(String path, Location at, String message, Kind kind) {
        add(Problem.Severity.ERROR, path, at, message, kind);
    }

    void warning(String path, Location at, String message) {
        add(Problem.Severity.WARNING, path, at, message, null);
    }

    void warning(String path, Location at, String message, Kind kind) {
        add(Problem.Severity.WARNING, path, at, message, kind);
    }

    private void add(Problem.Severity severity, String path, Location at, String message, Kind kind) {
        String shownPath = escape(path);
        String text = escape(message);
        String key = severity + "|" + (kind != null ? kind.key() : INDEX.matcher(shownPath).replaceAll("[*]") + "|"
                + NUMBER.matcher(QUOTED.matcher(text).replaceAll("''")).replaceAll("#"));
        if (at.through() != null) {
            text += " (reached through the alias at line " + at.through().line() + ", column " + at.through().column() + ")";
        }
        groups.computeIfAbsent(key, k -> new Group(kind == null ? null : kind.counted()))
                .add(new Problem(severity, shownPath, at, text));
        if (severity == Problem.Severity.ERROR) {
            errors++;
        }
    }

    boolean hasErrors() {
        return errors > 0;
    }

    /** How many errors were found, including those a summary stands for. */
    int errorCount() {
        return errors;
    }

    /** In file order, so the report reads top to bottom; each kind's first few, then a line that counts the rest. */
    List<Problem> sorted() {
        List<Problem> shown = new ArrayList<>();
        for (Group group : groups.values()) {
            shown.addAll(group.first.subList(0, Math.min(SHOWN_PER_KIND, group.first.size())));
            if (group.count > SHOWN_PER_KIND) {
                Problem next = group.first.get(SHOWN_PER_KIND);
                String path = INDEX.matcher(next.path()).replaceAll("[*]");
                String counted = group.counted != null ? group.counted : "like it" + (path.isEmpty() ? "" : " at " + path);
                shown.add(new Problem(next.severity(), path, next.location(), String.format("and %,d more %s (up to line %d)",
                        group.count - SHOWN_PER_KIND, counted, group.lastLine)));
            }
        }
        shown.sort(IN_FILE_ORDER);
        return shown;
    }

    /**
     * A value's control characters are written as escapes, so that a message stays one line and a terminal
     * shows it as it is written (no escape sequence reaches the terminal).
     */
    static String escape(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            String escaped = switch (c) {
                case '\n' -> "\\n";
                case '\t' -> "\\t";
                case '\r' -> "\\r";
                case '\0' -> "\\0";
                default -> c < 0x20 || (c >= 0x7f && c <= 0x9f) ? String.format("\\x%02x", (int) c)
                        : c == '\u2028' || c == '\u2029' || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069')
                                ? String.format("\\u%04x", (int) c) : null;
            };
            if (escaped != null && out == null) {
                out = new StringBuilder(text.length() + 8).append(text, 0, i);
            }
            if (out != null) {
                if (escaped != null) {
                    out.append(escaped);
                } else {
                    out.append(c);
                }
            }
        }
        return out == null ? text : out.toString();
    }
}
