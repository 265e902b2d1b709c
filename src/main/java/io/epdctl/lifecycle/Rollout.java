package io.epdctl.lifecycle;

import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
import io.epdctl.state.StateStore;
import io.epdctl.topology.ProxySpec;
import io.epdctl.topology.RestartPolicy;
import io.epdctl.topology.Role;
import io.epdctl.transport.TransportException;
import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Carries out an {@link UpPlan} behind a running built-in proxy, in the waves of its {@link RolloutOrder}: for each
 * wave, its old processes are drained in the proxy (no new requests; those in flight end, up to the drain timeout),
 * removed from it and stopped; its new ones are started, awaited (and so armed) and added to the proxy once its
 * probes find them healthy. When the proxy's backends change, its script on its host is rewritten first, so that a
 * restart by its supervisor starts it with the file's backends. At the end the proxy's backends are made what the
 * file says (an interrupted earlier run may have left a ready node out). Every process is in the state before it
 * starts and leaves it once stopped.
 */
final class Rollout {
    static final String TEMPORARY = ProxySpec.HANDOVER_NAME;

    /** Records, prepares the hosts and starts launches (one command per host), as {@link Deployer} does. */
    interface Launcher {
        DeploymentState launch(DeploymentState state, List<LaunchPlan.Launch> launches, Map<String, UpPlan.EcAction> ec,
                List<ProcessRecord> startedHere) throws IOException, InterruptedException, TransportException;
    }

    record Options(Duration grace, Duration drainTimeout, Duration readyTimeout, Duration pollInterval) {
    }

    private final ProcessControl control;
    private final NodeProbe probe;
    private final StateStore store;
    private final Progress progress;
    private final String servedModelName;
    private final Options options;
    private final Launcher launcher;

    Rollout(ProcessControl control, NodeProbe probe, StateStore store, Progress progress, String servedModelName,
            Options options, Launcher launcher) {
        this.control = control;
        this.probe = probe;
        this.store = store;
        this.progress = progress;
        this.servedModelName = servedModelName;
        this.options = options;
        this.launcher = launcher;
    }

    /**
     * The state once every wave is done. {@code startedHere} holds, when a wave fails, what that wave started (the
     * earlier waves' nodes are ready and in the proxy: they stay). {@code reconcile}: at the end the proxy's backends are
     * made the file's ({@code up}; not {@code restart}, which changes nothing else).
     */
    DeploymentState carryOut(UpPlan plan, DeploymentState state, LaunchPlan.Launch proxyLaunch, List<ProcessRecord> startedHere,
            boolean reconcile) throws DeploymentException, InterruptedException, IOException, TransportException {
        if (plan.proxy() == UpPlan.ProxyChange.HANDED_OVER) {
            state = handOver(state, proxyLaunch);
        }
        ProcessRecord proxy = state.process(proxyLaunch.name()).orElseThrow();
        if (plan.proxy() == UpPlan.ProxyChange.RECONFIGURED) {
            control.rewriteScript(proxyLaunch);
            // The same process, recorded with the spec it now has (its backends), so that the next plan compares with it.
            proxy = proxyLaunch.record().started(proxy.processGroup(), proxy.startTicks(), proxy.startedAt());
            state = state.with(proxy);
            store.write(state);
            progress.say("proxy: its script lists the new backends (" + proxyLaunch.record().script() + ")");
        }
        try (ProxyControl channel = ProxyControl.open(control.hosts().require(proxy.host()), proxy.directory())) {
            List<RolloutOrder.Wave> waves = plan.rollout().waves();
            for (int i = 0; i < waves.size(); i++) {
                RolloutOrder.Wave wave = waves.get(i);
                progress.say("step " + (i + 1) + " of " + waves.size() + ": " + wave.describe());
                startedHere.clear();
                state = carryOut(wave, state, plan.ec(), channel, startedHere);
            }
            startedHere.clear();
            if (reconcile) {
                reconcile(channel, plan);
            }
        }
        return state;
    }

    /**
     * The built-in proxy restarted with its new flags without a refused connection, in two hand-overs (its process in
     * the state keeps its name): a temporary proxy ({@value #TEMPORARY}, the new flags, in the same run directory so
     * that it takes over the old one's control file and its decoders' callbacks) is started and listens on the same
     * port (SO_REUSEPORT) before the old proxy is stopped (it drains); then the new {@code proxy} is started the same
     * way and the temporary one stopped and its files removed. Each is in the state before it starts. When the temporary one cannot take
     * over, it is stopped and the old proxy serves on.
     */
    private DeploymentState handOver(DeploymentState state, LaunchPlan.Launch proxy)
            throws DeploymentException, InterruptedException, IOException, TransportException {
        ProcessRecord old = state.process(proxy.name()).orElseThrow();
        ProcessRecord wanted = proxy.record();
        LaunchPlan.Launch temporary = new LaunchPlan.Launch(new ProcessRecord(TEMPORARY, wanted.role(), wanted.host(),
                wanted.address(), wanted.port(), wanted.devices(), wanted.extraPorts(), 0, "", null, wanted.directory(),
                wanted.specHash(), wanted.spec(), wanted.container(), wanted.readiness(), null, null), proxy.script(), Supervisor.script(TEMPORARY, RestartPolicy.NEVER),
                proxy.interfaceAddress());
        java.util.Optional<ProcessRecord> left = state.process(TEMPORARY);
        if (left.isPresent()) {
            // An interrupted hand-over's: stopped first (the old proxy serves on), so that the new one does not take its
            // record and files while it still runs.
            progress.say("proxy: " + TEMPORARY + " of an interrupted hand-over goes first");
            state = stop(state, left.get());
        }
        progress.say("proxy: handing over to a proxy with the new flags on the same port");
        ProcessRecord next = takeOver(state, temporary, old);
        state = store.read(state.deployment()).orElse(state).with(next);
        state = stop(state, old);
        ProcessRecord now = takeOver(state, proxy, next);
        state = store.read(state.deployment()).orElse(state).with(now);
        state = stop(state, next);
        try {
            // Nothing reads them any more: the next hand-over starts a new proxy-next. A failed take-over keeps them (its
            // message points to its log).
            control.removeRunFiles(next);
        } catch (TransportException e) {
            progress.note(next.name() + "'s files stay in " + next.host() + ":" + next.directory() + ": " + e.getMessage());
        }
        return state;
    }

    /** Starts {@code launch} and waits until its group listens on the proxy's port; stops it again when it does not. */
    private ProcessRecord takeOver(DeploymentState state, LaunchPlan.Launch launch, ProcessRecord serving)
            throws DeploymentException, InterruptedException, IOException, TransportException {
        List<ProcessRecord> started = new java.util.ArrayList<>();
        try {
            launcher.launch(state, List.of(launch), Map.of(), started);
            ProcessRecord process = started.get(0);
            long deadline = System.nanoTime() + options.readyTimeout().toNanos();
            while (!control.listenerGroups(process.host(), Set.of(process.port())).getOrDefault(process.port(), Set.of())
                    .contains(process.processGroup())) {
                ProcessState seen = control.probe(List.of(process), true).get(process.name());
                if (seen == null || !seen.isRunning() || seen.fatalLine() != null) {
                    throw new DeploymentException(process.name() + " (the proxy with the new flags) "
                            + (seen == null ? "is no longer running" : seen.describe()) + "; " + serving.name() + " serves on; see "
                            + process.host() + ":" + process.log());
                }
                if (System.nanoTime() - deadline >= 0) {
                    throw new DeploymentException(process.name() + " did not listen on port " + process.port() + " within "
                            + options.readyTimeout().toSeconds() + " s; " + serving.name() + " serves on");
                }
                Thread.sleep(options.pollInterval().toMillis());
            }
            progress.step(process.name(), Progress.Step.READY, "listens on port " + process.port() + " next to " + serving.name());
            control.arm(List.of(process));
            return process;
        } catch (DeploymentException | TransportException e) {
            DeploymentState now = store.read(state.deployment()).orElse(state);
            Teardown.Result stopped = new Teardown(control, progress, options.grace()).stop(now,
                    started.isEmpty() ? List.of(launch.record()) : started);
            store.write(stopped.state());
            throw e;
        }
    }

    private DeploymentState stop(DeploymentState state, ProcessRecord process) throws DeploymentException, InterruptedException, IOException {
        progress.say("stopping " + process.name() + " (it drains its requests in flight)");
        Teardown.Result stopped = new Teardown(control, progress, options.grace()).stop(state, List.of(process));
        store.write(stopped.state());
        if (!stopped.clean()) {
            throw new DeploymentException("cannot stop " + process.name() + " after the hand-over: " + stopped.leftBehind());
        }
        return stopped.state();
    }

    private DeploymentState carryOut(RolloutOrder.Wave wave, DeploymentState state, Map<String, UpPlan.EcAction> ec,
            ProxyControl channel, List<ProcessRecord> startedHere)
            throws DeploymentException, InterruptedException, IOException, TransportException {
        List<ProcessRecord> old = new java.util.ArrayList<>();
        for (ProcessRecord process : wave.rows().stream().filter(UpPlan.Row::stops).map(UpPlan.Row::previous).toList()) {
            if (state.process(process.name()).isPresent()) {
                old.add(process);
            } else {
                // The hand-over stopped it (an interrupted hand-over's proxy-next).
                progress.step(process.name(), Progress.Step.STOPPED, "stopped already");
            }
        }
        if (!old.isEmpty()) {
            Set<String> present = present(channel);
            for (ProcessRecord process : old) {
                if (process.servesHttp() && present.contains(UpPlan.backendKey(process))) {
                    drainAndRemove(channel, process);
                }
            }
            progress.say("stopping " + String.join(", ", old.stream().map(ProcessRecord::name).toList()));
            Teardown.Result stopped = new Teardown(control, progress, options.grace()).stop(state, old);
            state = stopped.state();
            store.write(state);
            if (!stopped.clean()) {
                throw new DeploymentException("cannot replace " + String.join(", ", stopped.leftBehind().keySet())
                        + ": the old processes could not be stopped");
            }
        }
        List<LaunchPlan.Launch> launches = wave.rows().stream().filter(UpPlan.Row::starts).map(UpPlan.Row::launch).toList();
        if (launches.isEmpty()) {
            return state;
        }
        Map<String, UpPlan.EcAction> hostsHere = new LinkedHashMap<>();
        launches.forEach(launch -> {
            UpPlan.EcAction action = ec.get(launch.record().host());
            if (action != null) {
                hostsHere.put(launch.record().host(), action);
            }
        });
        state = launcher.launch(state, launches, hostsHere, startedHere);
        new ReadinessWait(control, probe, servedModelName, progress, options.pollInterval())
                .await(List.copyOf(startedHere), options.readyTimeout());
        Set<String> present = present(channel);
        for (ProcessRecord process : startedHere.stream().filter(ProcessRecord::servesHttp).toList()) {
            if (!present.contains(UpPlan.backendKey(process))) {
                channel.add(role(process), process.address(), process.port());
            }
            channel.awaitHealthy(role(process), process.address(), process.port(), options.readyTimeout());
            progress.step(process.name(), Progress.Step.READY, "in the proxy");
        }
        return state;
    }

    private void drainAndRemove(ProxyControl channel, ProcessRecord process) throws DeploymentException {
        progress.step(process.name(), Progress.Step.STOPPING, "draining in the proxy (at most " + options.drainTimeout().toSeconds() + " s)");
        ProxyControl.Drained drained = channel.drain(role(process), process.address(), process.port(), options.drainTimeout());
        channel.remove(role(process), process.address(), process.port());
        progress.note(process.name() + ": " + (drained.drained() ? "drained and out of the proxy"
                : "out of the proxy; " + drained.inFlight() + " requests were still in flight after the drain timeout"));
    }

    /** The proxy's backends made the file's: the missing added, those of no node in the file drained and removed. */
    private void reconcile(ProxyControl channel, UpPlan plan) throws DeploymentException {
        Map<String, ProcessRecord> wanted = new LinkedHashMap<>();
        for (UpPlan.Row row : plan.rows()) {
            if (row.launch() != null && !row.launch().record().isProxy() && row.launch().record().servesHttp()) {
                wanted.put(UpPlan.backendKey(row.launch().record()), row.launch().record());
            }
        }
        Set<String> present = present(channel);
        for (Map.Entry<String, ProcessRecord> node : wanted.entrySet()) {
            if (!present.contains(node.getKey())) {
                ProcessRecord process = node.getValue();
                channel.add(role(process), process.address(), process.port());
                progress.say("proxy: added " + process.name() + " (" + node.getKey() + "), which it did not have");
            }
        }
        for (ProxyControl.Backend backend : channel.list()) {
            String key = backend.key();
            if (!wanted.containsKey(key)) {
                channel.drain(backend.role(), backend.host(), backend.port(), options.drainTimeout());
                channel.remove(backend.role(), backend.host(), backend.port());
                progress.say("proxy: removed " + key + ", which is no node of the file");
            }
        }
    }

    private static Set<String> present(ProxyControl channel) throws DeploymentException {
        Set<String> keys = new LinkedHashSet<>();
        channel.list().forEach(backend -> keys.add(backend.key()));
        return keys;
    }

    private static Role role(ProcessRecord process) {
        return Role.fromYaml(process.role());
    }
}
