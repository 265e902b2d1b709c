package io.epdctl.topology;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Collects every problem found in one file, so that all are reported at once. */
final class Problems {
    private final List<Problem> found = new ArrayList<>();

    void error(String path, Location at, String message) {
        found.add(new Problem(Problem.Severity.ERROR, path, at, message));
    }

    void warning(String path, Location at, String message) {
        found.add(new Problem(Problem.Severity.WARNING, path, at, message));
    }

    boolean hasErrors() {
        return found.stream().anyMatch(Problem::isError);
    }

    /** In file order, so the report reads top to bottom. */
    List<Problem> sorted() {
        return found.stream()
                .sorted(Comparator.comparingInt((Problem p) -> p.location().line())
                        .thenComparingInt(p -> p.location().column()))
                .toList();
    }
}
