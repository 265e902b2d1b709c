package io.epdctl.cli;

/**
 * A failure a command finds itself (a wrong option, an unknown node, a topology with errors): its message
 * is printed as is, without a stack trace, and the process exits with {@link #exitCode()}. What the
 * lifecycle throws is not wrapped in it but mapped by {@link Failure}, with this.
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
