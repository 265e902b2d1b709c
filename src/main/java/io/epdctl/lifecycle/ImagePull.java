package io.epdctl.lifecycle;

import io.epdctl.topology.Node;
import io.epdctl.topology.Topology;
import io.epdctl.transport.TransportException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code up --pull}: the images of the nodes of {@code runtime: docker}, pulled on their hosts (all hosts at once)
 * before anything starts. Without it nothing is pulled: which image version reaches a host is the operator's call,
 * and {@code check} says when one is missing.
 */
public final class ImagePull {
    private final ProcessControl control;
    private final Progress progress;

    public ImagePull(ProcessControl control, Progress progress) {
        this.control = control;
        this.progress = progress;
    }

    public void pull(Topology topology) throws DeploymentException, InterruptedException {
        Map<String, Set<List<String>>> byHost = new LinkedHashMap<>();
        for (Node node : topology.nodes()) {
            if (node.inContainer()) {
                byHost.computeIfAbsent(node.host(), host -> new LinkedHashSet<>())
                        .add(List.of(node.container().command(), node.container().image()));
            }
        }
        Map<String, String> failures = Parallel.map(List.copyOf(byHost.keySet()), host -> {
            List<String> failed = new ArrayList<>();
            for (List<String> pull : byHost.get(host)) {
                try {
                    progress.say("pulling " + pull.get(1) + " on " + host);
                    control.pull(host, pull.get(0), pull.get(1));
                } catch (TransportException e) {
                    failed.add(e.getMessage());
                }
            }
            return String.join("\n", failed);
        });
        String failed = String.join("\n", failures.values().stream().filter(text -> !text.isEmpty()).toList());
        if (!failed.isEmpty()) {
            throw new DeploymentException(failed + "\nnothing was started");
        }
    }
}
