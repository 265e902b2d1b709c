package io.epdctl.sim;

/**
 * A command line vLLM's argparse would reject: printed as argparse prints it ({@code vllm serve: error: ...})
 * with exit code 2, before anything listens.
 */
final class ArgumentError extends Exception {
    ArgumentError(String message) {
        super(message);
    }
}
