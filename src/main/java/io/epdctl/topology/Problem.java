package io.epdctl.topology;

/**
 * One finding about a topology file. {@link #format} gives the compiler-style line operators and
 * editors understand: {@code FILE:LINE:COL: PATH: message}.
 */
public record Problem(Severity severity, String path, Location location, String message) {
    public enum Severity { ERROR, WARNING }

    public boolean isError() {
        return severity == Severity.ERROR;
    }

    public String format(String file) {
        String where = path.isEmpty() ? "" : path + ": ";
        String prefix = severity == Severity.WARNING ? "warning: " : "";
        return file + ":" + location + ": " + where + prefix + message;
    }
}
