package io.epdctl.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Whether epdctl may colour and redraw what it writes to stdout and to stderr: the one place that decides.
 * Only a terminal gets colours and control codes, and not when {@code NO_COLOR} is set (no-color.org) or
 * {@code TERM} is {@code dumb}; a pipe or a file always gets plain lines. Commands ask {@link #out()} for
 * their data and {@link #err()} for their messages, and colour through {@link #paint}.
 *
 * @param out stdout is such a terminal
 * @param err stderr is such a terminal
 */
public record Terminal(boolean out, boolean err) {
    /** What tests that capture the output get, and every stream that is not a terminal. */
    public static final Terminal PLAIN = new Terminal(false, false);

    private static final String RESET = "\033[0m";

    /** The decision, from the environment and whether each stream is a terminal. */
    static Terminal decide(Map<String, String> env, boolean outIsTerminal, boolean errIsTerminal) {
        String noColor = env.get("NO_COLOR");
        boolean allowed = (noColor == null || noColor.isEmpty()) && !"dumb".equals(env.get("TERM"));
        return new Terminal(allowed && outIsTerminal, allowed && errIsTerminal);
    }

    /** This process's streams, as {@link Main} gives them to the commands. */
    static Terminal ofThisProcess() {
        return decide(System.getenv(), isTerminal(1), isTerminal(2));
    }

    /**
     * Whether file descriptor {@code fd} of this process is a terminal. Java tells only whether stdin and
     * stdout both are ({@code System.console()}); Linux's /proc tells per descriptor. Elsewhere: plain.
     */
    private static boolean isTerminal(int fd) {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty") || target.equals("/dev/console");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
        }
    }

    /** The colours of the states epdctl reports. */
    public enum Colour {
        GREEN("32"), YELLOW("33"), RED("31"), CYAN("36"), MAGENTA("35"), BLUE("34"), DIM("2"), BOLD("1");

        private final String code;

        Colour(String code) {
            this.code = code;
        }
    }

    /** {@code text} in {@code colour} when {@code styled}, else as it is. */
    public static String paint(boolean styled, Colour colour, String text) {
        return styled && !text.isEmpty() ? "\033[" + colour.code + "m" + text + RESET : text;
    }

    /** A state's colour: green when it serves, yellow on its way, red when it failed. */
    public static Colour colourOf(String state) {
        return switch (state) {
            case "ready", "stopped", "up" -> Colour.GREEN;
            case "starting", "started", "loading", "running", "stopping", "waiting", "degraded" -> Colour.YELLOW;
            default -> Colour.RED;
        };
    }

    /** {@code state} coloured as {@link #colourOf} says, padded to {@code width} outside the codes. */
    public static String state(boolean styled, String state, int width) {
        String padded = String.format("%-" + width + "s", state);
        return styled ? paint(true, colourOf(state), state) + padded.substring(state.length()) : padded;
    }

    /** The visible length of a line that may hold colour codes. */
    static int visibleLength(String text) {
        return text.replaceAll("\033\\[[0-9;]*[A-Za-z]", "").length();
    }
}
