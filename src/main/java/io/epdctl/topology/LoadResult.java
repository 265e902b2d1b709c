package io.epdctl.topology;

import java.nio.file.Path;
import java.util.List;

/** What loading a file gave: the topology when it has no errors, and every problem found (warnings too). */
public record LoadResult(Path file, Topology topologyOrNull, List<Problem> problems) {
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
