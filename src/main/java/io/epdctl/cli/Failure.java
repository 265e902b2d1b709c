package io.epdctl.cli;

import io.epdctl.lifecycle.DeploymentException;
import io.epdctl.lifecycle.ForensicsBundle;
import io.epdctl.proxy.EpdProxy;
import io.epdctl.render.ScriptTemplates;
import io.epdctl.state.StateStore;
import io.epdctl.transport.TransportException;
import java.io.IOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import picocli.CommandLine.ParameterException;

/**
 * What an exception that ends a command means to the operator: its exit code and the one message printed
 * for it. Every command's failures are mapped here and nowhere else; commands and the lifecycle throw
 * their own exceptions and let them go.
 *
 * @param internal an exception nobody expected: a bug, reported with a hint to report it
 */
record Failure(int exitCode, String message, boolean internal) {

    /**
     * @param command the subcommand that failed ({@code up}), for messages that name it
     * @param stateDirectory the command's state directory ({@code --state-dir}), or null if it has none
     */
    static Failure of(Throwable e, String command, Path stateDirectory) {
        // First: an interrupt is one however it was wrapped (a transport's TransportException, a task's exception).
        if (interrupted(e)) {
            return new Failure(ExitCodes.INTERRUPTED, "interrupted", false);
        }
        if (e instanceof UserException user) {
            return new Failure(user.exitCode(), user.getMessage(), false);
        }
        if (e instanceof ParameterException || e instanceof ScriptTemplates.TemplateException) {
            return new Failure(ExitCodes.INVALID_INPUT, e.getMessage(), false);
        }
        if (e instanceof DeploymentException) {
            return new Failure(ExitCodes.FAILURE, command + " failed: " + e.getMessage(), false);
        }
        if (e instanceof StateStore.LockedException || e instanceof TransportException) {
            return new Failure(ExitCodes.FAILURE, e.getMessage(), false);
        }
        if (e instanceof ForensicsBundle.WriteException) {
            return new Failure(ExitCodes.FAILURE, e.getMessage(), false);
        }
        if (e instanceof EpdProxy.ProxyStartException) {
            return new Failure(ExitCodes.FAILURE, "proxy: " + e.getMessage(), false);
        }
        // The commands' own files (scripts written by render -o, templates) are reported where they are
        // read or written; what is left is the state: ~/.epdctl missing rights, a file in its place, a broken state.json.
        if (e instanceof IOException io) {
            return new Failure(ExitCodes.FAILURE, stateDirectory != null
                    ? "cannot use the state directory " + stateDirectory + ": " + describe(io)
                    : describe(io), false);
        }
        return new Failure(ExitCodes.INTERNAL_ERROR, "internal error: " + e, true);
    }

    /**
     * Whether {@code e} or one of its causes is an interrupt. A file channel of the state that was interrupted
     * says so by closing itself: an interrupt, not a broken disk.
     */
    private static boolean interrupted(Throwable e) {
        Throwable cause = e;
        for (int depth = 0; cause != null && depth < 64; depth++, cause = cause.getCause()) { // causes may form a loop
            if (cause instanceof InterruptedException || cause instanceof ClosedByInterruptException) {
                return true;
            }
        }
        return false;
    }

    /** The file and what is wrong with it; the JDK leaves the reason out of some exceptions' messages. */
    static String describe(IOException e) {
        if (!(e instanceof FileSystemException fs) || fs.getFile() == null) {
            return e.getMessage() != null ? e.getMessage() : e.toString();
        }
        String reason = fs.getReason() != null ? fs.getReason()
                : fs instanceof NoSuchFileException ? "no such file or directory"
                : fs instanceof NotDirectoryException ? "not a directory"
                : fs instanceof FileAlreadyExistsException ? "exists and is not a directory"
                : fs instanceof AccessDeniedException ? "permission denied"
                : fs instanceof DirectoryNotEmptyException ? "directory not empty"
                : fs.getClass().getSimpleName();
        return fs.getFile() + (fs.getOtherFile() != null ? " -> " + fs.getOtherFile() : "") + ": " + reason;
    }
}
