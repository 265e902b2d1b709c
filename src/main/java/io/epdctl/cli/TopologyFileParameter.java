package io.epdctl.cli;

import io.epdctl.topology.LoadResult;
import io.epdctl.topology.Problem;
import io.epdctl.topology.Topology;
import io.epdctl.topology.TopologyLoader;
import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine.Parameters;

/** The topology file a command works on, loaded and checked the same way by every command. */
public final class TopologyFileParameter {
    @Parameters(index = "0", paramLabel = "FILE", description = "The topology file (YAML) describing the deployment.")
    Path file;

    public Path file() {
        return file;
    }

    /**
     * The checked topology. Every problem goes to {@code err} as {@code FILE:LINE:COL: PATH: message};
     * with any error, a {@link UserException} with exit code 2 follows.
     */
    public Topology load(PrintWriter err) {
        return load(file, err);
    }

    /** {@code file} loaded and checked as {@link #load(PrintWriter)} does (restart: the file the state records). */
    static Topology load(Path file, PrintWriter err) {
        LoadResult result = TopologyLoader.load(file);
        for (Problem problem : result.problems()) {
            err.println(problem.format(file.toString()));
        }
        if (result.hasErrors()) {
            int errors = result.errorCount();
            throw new UserException(ExitCodes.INVALID_INPUT,
                    file + ": " + errors + (errors == 1 ? " error" : " errors") + "; nothing was done");
        }
        return result.topologyOrNull();
    }
}
