package io.epdctl.lifecycle;

import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
import io.epdctl.transport.TransportException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Describes one process: its host is asked once (state, group, last exit, the script that runs) and its
 * HTTP routes once, at the same time. argv and env come from the script read back from the host rather
 * than from re-rendering the topology file: the file may have changed since {@code up}, the script is what
 * runs.
 */
public final class NodeDescriber {
    private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(2);

    private final ProcessControl control;
    private final NodeProbe probe;

    public NodeDescriber(ProcessControl control, NodeProbe probe) {
        this.control = control;
        this.probe = probe;
    }

    public NodeDescription describe(DeploymentState deployment, ProcessRecord process) throws InterruptedException {
        Parallel.Both<Object, NodeProbe.Readiness> answers = Parallel.both(() -> {
            try {
                return control.facts(process.host(), List.of(process));
            } catch (TransportException e) {
                return e;
            }
        }, () -> probe.readiness(process, deployment.servedModelName(), HTTP_TIMEOUT));
        NodeProbe.Readiness readiness = answers.second();
        if (answers.first() instanceof TransportException unreachable) {
            return description(deployment, process, ProcessState.unreachable(unreachable.getMessage()), List.of(), null,
                    readiness, List.of(), Map.of(), "host unreachable");
        }
        ProcessControl.HostReport report = (ProcessControl.HostReport) answers.first();
        HostCommands.ProcessFacts facts = report.facts(process);
        HostCommands.Item scriptItem = report.items().get(HostCommands.scriptKey(process));
        ProcessState state = facts.state() != null ? facts.state()
                : ProcessState.unreachable("the host reported nothing: " + report.stderr().strip());
        // The supervisor's record of the last exit; else (a process started before supervisors) its wrapper's exit file.
        ProcessState.LastExit supervised = state.supervision().lastExit();
        NodeDescription.LastExit lastExit = supervised != null ? new NodeDescription.LastExit(supervised.status(), supervised.at())
                : facts.lastExitStatus() == null ? null : new NodeDescription.LastExit(facts.lastExitStatus(),
                        facts.lastExitEpochSeconds() == null ? null : Instant.ofEpochSecond(facts.lastExitEpochSeconds()));
        if (scriptItem == null || scriptItem.status() == null || scriptItem.status() != 0) {
            String why = scriptItem == null ? "the host reported nothing" : scriptItem.text().strip();
            return description(deployment, process, state, facts.members(), lastExit, readiness, List.of(), Map.of(),
                    "cannot read " + process.script() + ": " + why);
        }
        RenderedScript script = RenderedScript.read(scriptItem.text());
        Secrets secrets = Secrets.with(Secrets.secretValues(script.env(), script.argv()));
        return description(deployment, process, state, facts.members(), lastExit, readiness, secrets.argv(script.argv()),
                secrets.env(script.env()), script.hasCommand() ? null : process.script() + " has no exec line");
    }

    private static NodeDescription description(DeploymentState deployment, ProcessRecord process, ProcessState state,
            List<Long> members, NodeDescription.LastExit lastExit, NodeProbe.Readiness readiness, List<String> argv,
            Map<String, String> env, String scriptProblem) {
        return new NodeDescription(deployment.deployment(), process.name(), process.role(), process.host(), process.address(),
                process.devices(), process.port(), process.ports(), process.dpRpcPort(), process.processGroup(), members, process.startedAt(),
                state.describe(), state.isRunning(), readiness.ready(), readiness.detail(), process.script(), process.log(),
                argv, env, scriptProblem, lastExit,
                state.kind() == ProcessState.Kind.UNREACHABLE || !process.isStarted() ? null : state.supervision().restarts());
    }
}
