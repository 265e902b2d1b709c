package io.epdctl.lifecycle;

import java.io.PrintWriter;

/**
 * What {@code up} and {@code down} tell the operator as they go: messages about the whole run, and each
 * process's steps. {@link #lines} writes them as plain lines; the command line may show them otherwise
 * (one live line per process on a terminal) or not at all ({@code -q}).
 */
public interface Progress {
    /** A step of one process. STARTING and STOPPING are transitions, shown only where a line is redrawn. */
    enum Step {
        STARTING, STARTED, READY, STOPPING, STOPPED, FAILED
    }

    /** A message about the run: plain output prints it as {@code epdctl: TEXT}. */
    void say(String text);

    /** A detail of the run (a summary of what is awaited, a directory removed): printed indented. */
    void note(String text);

    /** Process {@code name} reached {@code step}; {@code text} says how ("ready after 1.2 s"). */
    void step(String name, Step step, String text);

    /** Nothing at all: the run's outcome still reaches the operator (as data, or as the failure's message). */
    Progress QUIET = new Progress() {
        @Override
        public void say(String text) {
        }

        @Override
        public void note(String text) {
        }

        @Override
        public void step(String name, Step step, String text) {
        }
    };

    /** Plain lines, one per message and per step, for a pipe, a file or a terminal without redrawing. */
    static Progress lines(PrintWriter out) {
        return new Progress() {
            @Override
            public void say(String text) {
                print("epdctl: " + text);
            }

            @Override
            public void note(String text) {
                print("  " + text);
            }

            @Override
            public void step(String name, Step step, String text) {
                if (step != Step.STARTING && step != Step.STOPPING) {
                    print("  " + name + ": " + text);
                }
            }

            private void print(String line) {
                synchronized (out) {
                    out.println(line);
                    out.flush();
                }
            }
        };
    }
}
