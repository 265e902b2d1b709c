package io.epdctl.cli;

/**
 * A failure the user can act on: its message is printed as is, without a stack trace, and the
 * process exits with {@link #exitCode()}. Thrown anywhere below a command; handled once in {@link Main}.
 */
public class UserException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int exitCode;

    public UserException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public UserException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }
}
