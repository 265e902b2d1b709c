package io.epdctl.topology;

import java.nio.file.Path;
import java.util.List;

/**
 * What loading a file gave: the topology when it has no errors, and the problems to report (warnings too;
 * problems of one kind beyond the first few are summarised in one of them). {@code errorCount} counts
 * every error found, the summarised ones included.
 */
public record LoadResult(Path file, Topology topologyOrNull, List<Problem> problems, int errorCount) {
    public boolean hasErrors() {
        return topologyOrNull == null;
    }

    public List<Problem> errors() {
        return problems.stream().filter(Problem::isError).toList();
    }

    public List<Problem> warnings() {
        return problems.stream().filter(problem -> !problem.isError()).toList();
    }
}
