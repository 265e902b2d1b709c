package io.epdctl.cli;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The lines of {@code epdctl logs}: when each was written, which of them {@code --since} keeps, how several
 * processes' lines are merged, and how each is printed (prefix, time). The time of a line is its own when
 * it begins with one (vLLM's {@code INFO 12-01 10:23:45}, after an optional {@code (APIServer pid=N)}, or
 * an ISO-8601 date and time, as the host's clock wrote it in epdctl's time zone); else the time of the
 * timed line before it (a traceback belongs to its error line); lines before any timed one take the first
 * timed line's; a log with no time of its own at all is taken as written when it was last modified; and a
 * line that arrives while following takes the moment epdctl reads it.
 */
final class LogLines {
    private static final Pattern VLLM = Pattern.compile(
            "^(?:\\([^)]*\\) )?(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) (\\d{2})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2})");
    private static final Pattern ISO = Pattern.compile(
            "^\\[?(\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}:\\d{2}(?:[.,]\\d+)?)(Z|[+-]\\d{2}:?\\d{2})?");
    private static final DateTimeFormatter PRINTED = DateTimeFormatter.ISO_OFFSET_DATE_TIME;
    private static final Terminal.Colour[] NAME_COLOURS = {
        Terminal.Colour.CYAN, Terminal.Colour.YELLOW, Terminal.Colour.GREEN, Terminal.Colour.MAGENTA, Terminal.Colour.BLUE};

    private LogLines() {
    }

    /** A line of a process's log and the time it is taken for. */
    record Line(String process, String text, Instant time) {
    }

    /** The time a line carries itself, or null. vLLM's has no year: this year's, or last year's if that were ahead. */
    static Instant ownTime(String line, ZoneId zone, Instant now) {
        Matcher vllm = VLLM.matcher(line);
        if (vllm.find()) {
            try {
                int year = now.atZone(zone).getYear();
                LocalDateTime time = LocalDateTime.of(year, Integer.parseInt(vllm.group(1)), Integer.parseInt(vllm.group(2)),
                        Integer.parseInt(vllm.group(3)), Integer.parseInt(vllm.group(4)), Integer.parseInt(vllm.group(5)));
                Instant instant = time.atZone(zone).toInstant();
                return instant.isAfter(now.plus(1, ChronoUnit.DAYS)) ? time.minusYears(1).atZone(zone).toInstant() : instant;
            } catch (java.time.DateTimeException e) {
                return null;
            }
        }
        Matcher iso = ISO.matcher(line);
        if (iso.find()) {
            try {
                LocalDateTime time = LocalDateTime.parse(iso.group(1).replace(' ', 'T').replace(',', '.'));
                String offset = iso.group(2);
                return offset == null ? time.atZone(zone).toInstant()
                        : time.atOffset(java.time.ZoneOffset.of(offset.length() == 5 ? offset.substring(0, 3) + ":" + offset.substring(3) : offset)).toInstant();
            } catch (java.time.DateTimeException e) {
                return null;
            }
        }
        return null;
    }

    /** The lines of a log that were in it when asked, timed as the class says. */
    static List<Line> backlog(String process, List<String> lines, Instant modified, ZoneId zone, Instant now) {
        Instant[] times = new Instant[lines.size()];
        Instant previous = null;
        for (int i = 0; i < lines.size(); i++) {
            Instant own = ownTime(lines.get(i), zone, now);
            previous = own != null ? own : previous;
            times[i] = previous;
        }
        Instant first = java.util.Arrays.stream(times).filter(java.util.Objects::nonNull).findFirst().orElse(modified);
        List<Line> timed = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            timed.add(new Line(process, lines.get(i), times[i] != null ? times[i] : first));
        }
        return timed;
    }

    /** A line read while following: its own time, else now. */
    static Line followed(String process, String text, ZoneId zone, Instant now) {
        Instant own = ownTime(text, zone, now);
        return new Line(process, text, own != null ? own : now);
    }

    /** The lines at or after {@code since}; all when it is null. */
    static List<Line> since(List<Line> lines, Instant since) {
        return since == null ? lines : lines.stream().filter(line -> !line.time().isBefore(since)).toList();
    }

    /** Several processes' lines in the order they were written; lines of one second keep their log's order. */
    static List<Line> merge(List<List<Line>> perProcess) {
        List<Line> all = new ArrayList<>();
        perProcess.forEach(all::addAll);
        all.sort(Comparator.comparing(Line::time)); // stable: within one time, process order, then log order
        return all;
    }

    /**
     * How a line is printed: with {@code width} > 0 after its process's name (padded to width, in the
     * process's colour on a terminal) and a bar, as docker compose does; with {@code timestamps} after its time.
     */
    static String format(Line line, int width, int colourIndex, boolean timestamps, boolean styled, ZoneId zone) {
        StringBuilder text = new StringBuilder();
        if (width > 0) {
            text.append(Terminal.paint(styled, NAME_COLOURS[colourIndex % NAME_COLOURS.length],
                    String.format("%-" + width + "s |", line.process()))).append(' ');
        }
        if (timestamps) {
            text.append(ZonedDateTime.ofInstant(line.time().truncatedTo(ChronoUnit.SECONDS), zone).toOffsetDateTime()
                    .format(PRINTED)).append(' ');
        }
        return text.append(line.text()).toString();
    }
}
