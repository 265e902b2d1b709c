package io.epdctl.shell;

import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** Quoting for POSIX shells: every value epdctl puts into a script or a remote command goes through here. */
public final class Shell {
    /** Words a shell reads as themselves: flag names epdctl writes, plain words. */
    private static final Pattern PLAIN_FLAG = Pattern.compile("--?[A-Za-z0-9][A-Za-z0-9-]*");

    private Shell() {
    }

    /** {@code value} as one shell word, whatever it contains: single quotes, with {@code '} as {@code '\''}. */
    public static String quote(String value) {
        return "'" + value.replace("'", "'\\''") + "'";
    }

    /** A command line: flag names as they are, every other word quoted. */
    public static String command(List<String> argv) {
        return argv.stream().map(Shell::word).collect(Collectors.joining(" "));
    }

    /** Flag names stay readable ({@code --port}); anything else is quoted. */
    public static String word(String value) {
        return PLAIN_FLAG.matcher(value).matches() ? value : quote(value);
    }
}
