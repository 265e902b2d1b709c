package io.epdctl.sim;

import java.io.IOException;

/**
 * Stands for vLLM's EngineCore process: a child in the simulator's process group that outlives a SIGKILLed
 * simulator (as a real engine core does), so teardown that kills only the main pid leaves it behind.
 */
final class EngineChild {
    private final Process process;

    private EngineChild(Process process) {
        this.process = process;
    }

    static EngineChild start() throws IOException {
        Process process = new ProcessBuilder("sleep", "2147483647")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        process.getOutputStream().close();
        return new EngineChild(process);
    }

    long pid() {
        return process.pid();
    }

    void stop() {
        process.destroy();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
