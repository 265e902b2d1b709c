package io.epdctl.cli;

import picocli.CommandLine.Option;

/** {@code -o table|wide|json} of the commands that print rows (status, ls); {@code --json} is -o json. */
public final class OutputOption {
    /** How rows are printed: aligned columns, the same with more columns, or JSON for scripts. */
    enum Format { table, wide, json }

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "table",
            description = "table (default), wide (more columns, reasons in full) or json (for scripts).")
    Format format;

    @Option(names = "--json", description = "The same as -o json.")
    boolean json;

    Format format() {
        return json ? Format.json : format;
    }
}
