package io.epdctl.cli;

import io.epdctl.topology.Node;
import io.epdctl.topology.Role;
import io.epdctl.topology.Topology;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(
        name = "validate",
        mixinStandardHelpOptions = true,
        description = {
            "Checks a topology file without touching any host.",
            "Every problem is reported at once as FILE:LINE:COL: PATH: message. Warnings are printed but do not fail."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:the topology is valid (warnings may have been printed)", "2:invalid command line, or the topology has errors"})
public final class ValidateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    TopologyFileParameter topologyFile;

    @Override
    public Integer call() {
        Topology topology = topologyFile.load(spec.commandLine().getErr());
        spec.commandLine().getOut().println(topologyFile.file() + ": valid: " + summary(topology));
        return ExitCodes.OK;
    }

    static String summary(Topology topology) {
        List<String> roles = new ArrayList<>();
        for (Role role : Role.values()) {
            int count = topology.nodes(role).size();
            if (count > 0) {
                roles.add(count + " " + role.yamlName());
            }
        }
        long hosts = topology.nodes().stream().flatMap(node -> node.rankHosts().stream()).map(Node.RankHost::host).distinct().count();
        return "deployment " + topology.name() + ", " + topology.nodes().size() + " nodes (" + String.join(", ", roles)
                + ") on " + hosts + (hosts == 1 ? " host" : " hosts") + ", proxy on " + topology.proxy().host() + ":"
                + topology.proxy().port() + (topology.proxy().isBuiltIn() ? " (built-in)" : " (script: " + topology.proxy().kind().yamlName() + ")");
    }
}
