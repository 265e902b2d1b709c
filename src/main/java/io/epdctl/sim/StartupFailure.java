package io.epdctl.sim;

/**
 * A failure vLLM reports while building its engine (after argument parsing): printed as a Python traceback
 * ending in {@code exceptionLine}, then exit code 1.
 */
final class StartupFailure extends Exception {
    private final String exceptionLine;

    /** {@code exceptionLine} is the last traceback line, e.g. {@code ValueError: Unsupported connector type}. */
    StartupFailure(String exceptionLine) {
        super(exceptionLine);
        this.exceptionLine = exceptionLine;
    }

    String exceptionLine() {
        return exceptionLine;
    }
}
