package io.epdctl.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IExitCodeExceptionMapper;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/**
 * The one place where an exception that ends a command becomes a message on stderr and an exit code, as
 * {@link Failure} maps it. Installed on the whole command line by {@link Main}: picocli asks the handler
 * for exceptions a command throws, and the mapper for the exit code of the rest (its own usage errors).
 */
final class ErrorHandler implements IExecutionExceptionHandler, IExitCodeExceptionMapper {

    @Override
    public int handleExecutionException(Exception exception, CommandLine command, ParseResult parseResult) {
        return report(exception, command);
    }

    /**
     * picocli hands the handler Exceptions only and lets an Error (OutOfMemoryError, StackOverflowError)
     * escape {@code execute}: {@link Main} catches it around the command and reports it here, the same way.
     */
    int handleError(Error error, CommandLine command) {
        return report(error, command);
    }

    private int report(Throwable exception, CommandLine command) {
        Failure failure = Failure.of(exception, command.getCommandName(), stateDirectory(command.getCommandSpec()));
        PrintWriter err = command.getErr();
        err.println("epdctl: " + failure.message());
        if (failure.internal()) {
            if (System.getenv("EPDCTL_DEBUG") != null) {
                exception.printStackTrace(err);
            } else {
                err.println("(set EPDCTL_DEBUG=1 for the stack trace, and please report it)");
            }
        }
        err.flush();
        return failure.exitCode();
    }

    @Override
    public int getExitCode(Throwable exception) {
        return Failure.of(exception, null, null).exitCode();
    }

    /** The {@code --state-dir} of a command that has one (its {@link StateOptions} mixin), else null. */
    private static Path stateDirectory(CommandSpec spec) {
        return spec.mixins().values().stream()
                .map(CommandSpec::userObject)
                .filter(StateOptions.class::isInstance)
                .map(options -> ((StateOptions) options).directory())
                .findFirst().orElse(null);
    }
}
