package io.epdctl.transport;

/** What a command run through a {@link Transport} left: its exit code and its whole output. */
public record CommandResult(int exitCode, String stdout, String stderr) {

    public boolean succeeded() {
        return exitCode == 0;
    }
}
