package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
import io.epdctl.state.ProcessSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** The decision of up, row by row: each case asserts the exact line(s) the plan prints. */
class UpPlanTest {
    private static final Instant NOW = Instant.parse("2026-12-01T10:00:40Z");
    private static final Instant STARTED = Instant.parse("2026-12-01T10:00:00Z");
    private static final ProcessState RUNNING = ProcessState.of(ProcessState.Kind.RUNNING);
    private static final NodeProbe.Readiness READY = new NodeProbe.Readiness(true, true, "ready");
    private static final NodeProbe.Readiness LOADING = new NodeProbe.Readiness(false, false, "not listening yet");

    /** A process as the topology renders it: e0 and p0 on host a, d0 on b, the proxy on a. */
    private static LaunchPlan.Launch launch(String name, String role, String host, List<Integer> devices, UnaryOperator<Spec> change) {
        Spec spec = change.apply(new Spec(new ArrayList<>(List.of("/opt/vllm", "serve", "/models/qwen", "--port", "8000",
                "--max-num-seqs", "128")), new LinkedHashMap<>(Map.of("VLLM_HOST_IP", "10.0.0.1")), List.of("source /opt/env.sh"),
                devices, host, "127.0.0.1", "/run"));
        ProcessSpec parts = spec.parts();
        ProcessRecord record = new ProcessRecord(name, role, parts.host(), parts.address(), 8000, devices, List.of(), 0, "", null,
                parts.directory(), Integer.toHexString(parts.hashCode()) + spec.template, parts, null);
        return new LaunchPlan.Launch(record, "#!/bin/sh\n", "", Optional.empty());
    }

    /** A mutable spec to change one part of in a case. */
    private static final class Spec {
        List<String> argv;
        Map<String, String> env;
        List<String> setup;
        List<Integer> devices;
        String host;
        String address;
        String directory;
        String image;
        String template = "";

        Spec(List<String> argv, Map<String, String> env, List<String> setup, List<Integer> devices, String host, String address,
                String directory) {
            this.argv = argv;
            this.env = env;
            this.setup = setup;
            this.devices = devices;
            this.host = host;
            this.address = address;
            this.directory = directory;
        }

        ProcessSpec parts() {
            Map<String, String> hashes = new LinkedHashMap<>();
            env.forEach((name, value) -> hashes.put(name, Integer.toHexString((name + "=" + value).hashCode())));
            return new ProcessSpec(List.copyOf(argv), hashes, List.copyOf(setup), List.copyOf(devices), host, address, directory, image);
        }

        Spec flag(String flag, String value) {
            argv.set(argv.indexOf(flag) + 1, value);
            return this;
        }
    }

    private static LaunchPlan topology(UnaryOperator<Spec> d0Change) {
        return new LaunchPlan(List.of(
                launch("e0", "encoder", "a", List.of(0), spec -> spec),
                launch("p0", "prefill", "a", List.of(1), spec -> spec),
                launch("d0", "decode", "b", List.of(2), d0Change)),
                launch("proxy", "proxy", "a", List.of(), spec -> spec));
    }

    private static final LaunchPlan UNCHANGED = topology(spec -> spec);

    /** The records of an earlier up of {@code plan}, all started. */
    private static DeploymentState ran(LaunchPlan plan) {
        List<ProcessRecord> records = new ArrayList<>();
        long pid = 100;
        for (LaunchPlan.Launch launch : plan.all()) {
            records.add(launch.record().started(pid++, "1", STARTED));
        }
        return state(records);
    }

    private static DeploymentState state(List<ProcessRecord> records) {
        return new DeploymentState("demo", "/t.yaml", "qwen", "/data/ec", Map.of(), records, STARTED);
    }

    /** Everything ready, but for the given observations. */
    private static Map<String, UpPlan.Observation> observed(DeploymentState state, Map<String, UpPlan.Observation> except) {
        Map<String, UpPlan.Observation> observed = new HashMap<>();
        state.processes().forEach(process -> observed.put(process.name(), new UpPlan.Observation(RUNNING, READY)));
        observed.putAll(except);
        return observed;
    }

    private static UpPlan decide(LaunchPlan desired, DeploymentState previous, Map<String, UpPlan.Observation> except) {
        return UpPlan.decide(desired, previous, previous == null ? Map.of() : observed(previous, except), "/data/ec", NOW);
    }

    private static String line(UpPlan plan, String name) {
        return plan.rows().stream().filter(row -> row.name().equals(name)).findFirst().orElseThrow().line();
    }

    private static UpPlan.Observation dead(ProcessState.Kind kind) {
        return new UpPlan.Observation(ProcessState.of(kind), null);
    }

    @Test
    void aFirstUpStartsEverythingAndEmptiesTheEcDirectoryOnEncoderHosts() {
        UpPlan plan = decide(UNCHANGED, null, Map.of());

        assertThat(plan.lines()).containsExactly(
                "start e0 (encoder on a): new",
                "start p0 (prefill on a): new",
                "start d0 (decode on b): new",
                "start proxy (proxy on a): new",
                "EC directory /data/ec: emptied on a; created on b",
                "roles briefly without a backend: none",
                "proxy: started");
        assertThat(plan.unchanged()).isFalse();
        assertThat(plan.toStop()).isEmpty();
        assertThat(plan.toStart()).extracting(LaunchPlan.Launch::name).containsExactly("e0", "p0", "d0", "proxy");
    }

    @Test
    void anUnchangedReadyDeploymentIsKeptWhole() {
        UpPlan plan = decide(UNCHANGED, ran(UNCHANGED), Map.of());

        assertThat(plan.lines()).containsExactly(
                "keep e0 (encoder on a): unchanged, ready",
                "keep p0 (prefill on a): unchanged, ready",
                "keep d0 (decode on b): unchanged, ready",
                "keep proxy (proxy on a): unchanged, ready",
                "EC directory /data/ec: untouched",
                "roles briefly without a backend: none",
                "proxy: kept");
        assertThat(plan.unchanged()).isTrue();
        assertThat(plan.toStart()).isEmpty();
    }

    @Test
    void whatChangedIsSaidExactly() {
        DeploymentState previous = ran(UNCHANGED);
        Map<String, String> cases = new LinkedHashMap<>();
        Map<String, UnaryOperator<Spec>> changes = new LinkedHashMap<>();
        changes.put("restart d0 (decode on b): --max-num-seqs 128 -> 96", spec -> spec.flag("--max-num-seqs", "96"));
        changes.put("restart d0 (decode on b): --enforce-eager added", spec -> {
            spec.argv.add("--enforce-eager");
            return spec;
        });
        changes.put("restart d0 (decode on b): --max-model-len added (32768)", spec -> {
            spec.argv.addAll(List.of("--max-model-len", "32768"));
            return spec;
        });
        changes.put("restart d0 (decode on b): --max-num-seqs removed", spec -> {
            spec.argv = new ArrayList<>(spec.argv.subList(0, 5));
            return spec;
        });
        changes.put("restart d0 (decode on b): env X added", spec -> {
            spec.env.put("X", "1");
            return spec;
        });
        changes.put("restart d0 (decode on b): env VLLM_HOST_IP changed", spec -> {
            spec.env.put("VLLM_HOST_IP", "10.0.0.2");
            return spec;
        });
        changes.put("restart d0 (decode on b): env VLLM_HOST_IP removed", spec -> {
            spec.env.clear();
            return spec;
        });
        changes.put("restart d0 (decode on b): devices [2] -> [3]", spec -> {
            spec.devices = List.of(3);
            return spec;
        });
        changes.put("restart d0 (decode on c): host b -> c, address 127.0.0.1 -> 127.0.0.2", spec -> {
            spec.host = "c";
            spec.address = "127.0.0.2";
            return spec;
        });
        changes.put("restart d0 (decode on b): command /opt/vllm serve /models/qwen -> /opt/vllm-0.13/bin/vllm serve /models/qwen",
                spec -> {
                    spec.argv.set(0, "/opt/vllm-0.13/bin/vllm");
                    return spec;
                });
        changes.put("restart d0 (decode on b): image none (a host process) -> quay.io/ascend/vllm-ascend:v0.11.0", spec -> {
            spec.image = "quay.io/ascend/vllm-ascend:v0.11.0";
            return spec;
        });
        changes.put("restart d0 (decode on b): setup lines changed", spec -> {
            spec.setup = List.of("source /opt/other.sh");
            return spec;
        });
        changes.put("restart d0 (decode on b): its script changed (a template or a masked value)", spec -> {
            spec.template = "-custom";
            return spec;
        });
        changes.forEach((expected, change) -> cases.put(expected, line(decide(topology(change), previous, Map.of()), "d0")));

        cases.forEach((expected, actual) -> assertThat(actual).isEqualTo(expected));
    }

    @Test
    void aChangeOfTheOnlyNodeOfARoleLeavesThatRoleBrieflyWithoutABackendAndTheProxyIsKept() {
        UpPlan plan = decide(topology(spec -> spec.flag("--max-num-seqs", "96")), ran(UNCHANGED), Map.of());

        assertThat(plan.lines()).containsExactly(
                "keep e0 (encoder on a): unchanged, ready",
                "keep p0 (prefill on a): unchanged, ready",
                "restart d0 (decode on b): --max-num-seqs 128 -> 96",
                "keep proxy (proxy on a): unchanged, ready",
                "EC directory /data/ec: created on b",
                "roles briefly without a backend: decode",
                "proxy: kept");
        assertThat(plan.toStop()).extracting(ProcessRecord::name).containsExactly("d0");
        assertThat(plan.toStop().get(0).processGroup()).as("the recorded process is stopped").isEqualTo(102);
    }

    @Test
    void deadProcessesAreRestartedWithWhatHappenedToThem() {
        DeploymentState previous = ran(UNCHANGED);
        Map<UpPlan.Observation, String> cases = new LinkedHashMap<>();
        cases.put(new UpPlan.Observation(new ProcessState(ProcessState.Kind.EXITED, 137, null, null, ProcessState.Supervision.NONE), null),
                "restart d0 (decode on b): exited with status 137");
        cases.put(dead(ProcessState.Kind.GONE), "restart d0 (decode on b): gone (killed by a signal or the host restarted)");
        cases.put(dead(ProcessState.Kind.REUSED), "restart d0 (decode on b): gone (its pid now belongs to another process)");
        cases.put(dead(ProcessState.Kind.ORPHANED), "restart d0 (decode on b): leader gone, other processes of its group remain");
        cases.put(new UpPlan.Observation(ProcessState.unreachable("b: connection refused"), null),
                "restart d0 (decode on b): host unreachable: b: connection refused");
        cases.put(new UpPlan.Observation(RUNNING.withFatalLine("RuntimeError: Engine core initialization failed"), READY),
                "restart d0 (decode on b): running, but its log shows: RuntimeError: Engine core initialization failed");
        cases.put(new UpPlan.Observation(RUNNING, new NodeProbe.Readiness(true, false, "/health answers 500")),
                "restart d0 (decode on b): unhealthy: /health answers 500");

        ProcessState.LastExit gaveUp = new ProcessState.LastExit(Instant.parse("2026-12-01T10:00:00Z"), 1, Supervisor.CRASH_LOOP);
        cases.put(new UpPlan.Observation(new ProcessState(ProcessState.Kind.EXITED, 1, null, null,
                        new ProcessState.Supervision(4, gaveUp, null)), null),
                "restart d0 (decode on b): crash loop: its supervisor stopped restarting it after exited with status 1");

        cases.forEach((seen, expected) ->
                assertThat(line(decide(UNCHANGED, previous, Map.of("d0", seen)), "d0")).isEqualTo(expected));
    }

    @Test
    void aNodeItsSupervisorIsAboutToStartAgainIsWaitedFor() {
        ProcessState.LastExit crashed = new ProcessState.LastExit(Instant.parse("2026-12-01T10:00:00Z"), 137, "restart");
        ProcessState restarting = new ProcessState(ProcessState.Kind.RUNNING, null, null, null, new ProcessState.Supervision(2,
                crashed, new ProcessState.Restarting(3, Instant.parse("2026-12-01T10:00:04Z"))));

        UpPlan plan = decide(UNCHANGED, ran(UNCHANGED), Map.of("d0", new UpPlan.Observation(restarting, LOADING)));

        assertThat(line(plan, "d0")).isEqualTo("wait d0 (decode on b): unchanged; its supervisor starts it again (attempt 3)");
    }

    @Test
    void aNodeThatWasHealthyAndStoppedAnsweringIsRestartedOnceUnhealthyForHalfAMinute() {
        NodeProbe.Readiness silent = new NodeProbe.Readiness(true, false, "no answer within 2000 ms");
        ProcessState healed = new ProcessState(ProcessState.Kind.RUNNING, null, null, null, new ProcessState.Supervision(1,
                new ProcessState.LastExit(NOW.minusSeconds(20), 137, "restart"), null));
        Map<UpPlan.Observation, String> cases = new LinkedHashMap<>();
        cases.put(new UpPlan.Observation(RUNNING, silent, null, Duration.ofSeconds(12)),
                "wait d0 (decode on b): unchanged, alive, unhealthy for 12 s (no answer within 2000 ms); restarted once unhealthy for 30 s");
        cases.put(new UpPlan.Observation(RUNNING, silent, null, Duration.ofSeconds(41)),
                "restart d0 (decode on b): unhealthy for 41 s (no answer within 2000 ms)");
        cases.put(new UpPlan.Observation(healed, LOADING, null, Duration.ofSeconds(41)),
                "wait d0 (decode on b): unchanged, alive, loading for 20 s since its supervisor started it again (not listening yet)");
        cases.put(new UpPlan.Observation(RUNNING, silent, null, null),
                "wait d0 (decode on b): unchanged, alive, not ready for 40 s (no answer within 2000 ms)");

        cases.forEach((seen, expected) ->
                assertThat(line(decide(UNCHANGED, ran(UNCHANGED), Map.of("d0", seen)), "d0")).isEqualTo(expected));
    }

    @Test
    void aChangedNodeThatAlsoDiedSaysBoth() {
        UpPlan plan = decide(topology(spec -> spec.flag("--max-num-seqs", "96")), ran(UNCHANGED),
                Map.of("d0", new UpPlan.Observation(new ProcessState(ProcessState.Kind.EXITED, 1, null, null, ProcessState.Supervision.NONE), null)));

        assertThat(line(plan, "d0")).isEqualTo("restart d0 (decode on b): --max-num-seqs 128 -> 96; exited with status 1");
    }

    @Test
    void unchangedNodesStillLoadingAreWaitedForNeverRestarted() {
        UpPlan plan = decide(UNCHANGED, ran(UNCHANGED), Map.of(
                "e0", new UpPlan.Observation(RUNNING, LOADING),
                "p0", new UpPlan.Observation(RUNNING, new NodeProbe.Readiness(true, false, "/v1/models does not list qwen")),
                "d0", new UpPlan.Observation(RUNNING, new NodeProbe.Readiness(true, false, "no answer within 2000 ms")),
                "proxy", new UpPlan.Observation(RUNNING, new NodeProbe.Readiness(true, false, "503: no healthy decode backend"))));

        assertThat(plan.lines()).containsExactly(
                "wait e0 (encoder on a): unchanged, alive, loading for 40 s (not listening yet)",
                "wait p0 (prefill on a): unchanged, alive, not ready for 40 s (/v1/models does not list qwen)",
                "wait d0 (decode on b): unchanged, alive, not ready for 40 s (no answer within 2000 ms)",
                "wait proxy (proxy on a): unchanged, alive, not ready for 40 s (503: no healthy decode backend)",
                "EC directory /data/ec: untouched",
                "roles briefly without a backend: none",
                "proxy: kept");
        assertThat(plan.unchanged()).as("nothing to start or stop: plan exits 0").isTrue();
        assertThat(plan.toStart()).isEmpty();
        assertThat(plan.toStop()).isEmpty();
    }

    @Test
    void anInterruptedUpKeepsWhatStartedAndStartsWhatItNeverStarted() {
        // The first up recorded every process, then was killed after starting e0 and p0 (d0 and the proxy: pid 0).
        List<ProcessRecord> records = new ArrayList<>();
        records.add(UNCHANGED.nodes().get(0).record().started(100, "1", STARTED));
        records.add(UNCHANGED.nodes().get(1).record().started(101, "1", STARTED));
        records.add(UNCHANGED.nodes().get(2).record());
        records.add(UNCHANGED.proxy().record());
        DeploymentState previous = state(records);

        UpPlan plan = decide(UNCHANGED, previous, Map.of(
                "e0", new UpPlan.Observation(RUNNING, LOADING),
                "p0", new UpPlan.Observation(RUNNING, READY),
                "d0", dead(ProcessState.Kind.NOT_STARTED),
                "proxy", dead(ProcessState.Kind.NOT_STARTED)));

        assertThat(plan.lines()).containsExactly(
                "wait e0 (encoder on a): unchanged, alive, loading for 40 s (not listening yet)",
                "keep p0 (prefill on a): unchanged, ready",
                "start d0 (decode on b): an earlier up recorded it but never started it",
                "start proxy (proxy on a): an earlier up recorded it but never started it",
                "EC directory /data/ec: created on b, a",
                "roles briefly without a backend: none",
                "proxy: started");
        assertThat(plan.toStop()).as("nothing was started that must be stopped").isEmpty();
    }

    @Test
    void aHalfFailedEarlierRunRestartsWhatDiedAndKeepsTheRest() {
        // An earlier up started everything; p0 crashed while loading and that up was killed before cleaning up.
        DeploymentState previous = ran(UNCHANGED);

        UpPlan plan = decide(UNCHANGED, previous, Map.of(
                "p0", new UpPlan.Observation(new ProcessState(ProcessState.Kind.EXITED, 1, null, null, ProcessState.Supervision.NONE), null),
                "proxy", new UpPlan.Observation(RUNNING, new NodeProbe.Readiness(true, false, "503: no healthy prefill backend"))));

        assertThat(plan.lines()).containsExactly(
                "keep e0 (encoder on a): unchanged, ready",
                "restart p0 (prefill on a): exited with status 1",
                "keep d0 (decode on b): unchanged, ready",
                "wait proxy (proxy on a): unchanged, alive, not ready for 40 s (503: no healthy prefill backend)",
                "EC directory /data/ec: created on a",
                "roles briefly without a backend: none",
                "proxy: kept");
    }

    @Test
    void processesNoLongerInTheTopologyAreStoppedBeforeTheProxyRow() {
        LaunchPlan withD1 = new LaunchPlan(List.of(UNCHANGED.nodes().get(0), UNCHANGED.nodes().get(1), UNCHANGED.nodes().get(2),
                launch("d1", "decode", "b", List.of(3), spec -> spec)), UNCHANGED.proxy());
        LaunchPlan scaledIn = new LaunchPlan(List.of(UNCHANGED.nodes().get(0), UNCHANGED.nodes().get(1), UNCHANGED.nodes().get(2)),
                launch("proxy", "proxy", "a", List.of(), spec -> spec.flag("--port", "8001")));

        UpPlan plan = decide(scaledIn, ran(withD1), Map.of());

        assertThat(plan.lines()).containsExactly(
                "keep e0 (encoder on a): unchanged, ready",
                "keep p0 (prefill on a): unchanged, ready",
                "keep d0 (decode on b): unchanged, ready",
                "stop d1 (decode on b): no longer in the topology",
                "restart proxy (proxy on a): --port 8000 -> 8001",
                "EC directory /data/ec: created on a",
                "roles briefly without a backend: none",
                "proxy: restarted; its endpoint is briefly unavailable");
        assertThat(plan.toStop()).extracting(ProcessRecord::name).containsExactly("d1", "proxy");
    }

    @Test
    void aNodeAddedToARunningDeploymentIsStartedAndTheEcDirectoryOnlyCreated() {
        LaunchPlan withE1 = new LaunchPlan(List.of(UNCHANGED.nodes().get(0), launch("e1", "encoder", "a", List.of(4), spec -> spec),
                UNCHANGED.nodes().get(1), UNCHANGED.nodes().get(2)), UNCHANGED.proxy());

        UpPlan plan = decide(withE1, ran(UNCHANGED), Map.of());

        assertThat(line(plan, "e1")).isEqualTo("start e1 (encoder on a): added to the topology");
        assertThat(plan.rows()).extracting(UpPlan.Row::name).containsExactly("e0", "e1", "p0", "d0", "proxy");
        assertThat(plan.summary().get(0)).as("a running consumer may still read it").isEqualTo("EC directory /data/ec: created on a");
    }

    @Test
    void aRecordFromBeforeSpecsWereRecordedIsJudgedByItsHash() {
        List<ProcessRecord> old = new ArrayList<>();
        for (ProcessRecord record : ran(UNCHANGED).processes()) {
            old.add(new ProcessRecord(record.name(), record.role(), record.host(), record.address(), record.port(), record.devices(),
                    record.extraPorts(), record.processGroup(), record.startTicks(), record.startedAt(), record.directory(),
                    record.specHash(), null, null));
        }

        UpPlan plan = decide(topology(spec -> spec.flag("--max-num-seqs", "96")), state(old), Map.of());

        assertThat(line(plan, "d0")).isEqualTo("restart d0 (decode on b): changed (its record predates recorded specs; "
                + "the hash of its script differs)");
        assertThat(line(plan, "e0")).isEqualTo("keep e0 (encoder on a): unchanged, ready");
    }

    @Test
    void aRoleKeepsABackendWhileOneOfItsTwoNodesRestarts() {
        LaunchPlan twoDecoders = new LaunchPlan(List.of(UNCHANGED.nodes().get(0), UNCHANGED.nodes().get(1), UNCHANGED.nodes().get(2),
                launch("d1", "decode", "b", List.of(3), spec -> spec)), UNCHANGED.proxy());

        UpPlan plan = decide(twoDecoders, ran(twoDecoders), Map.of("d1", dead(ProcessState.Kind.GONE),
                "e0", dead(ProcessState.Kind.GONE)));

        assertThat(plan.rolesWithoutBackend()).as("e0 was dead already: the encoder role had no backend to lose")
                .isEmpty();
        UpPlan bothDecoders = decide(topology(spec -> spec.flag("--max-num-seqs", "96")), ran(UNCHANGED), Map.of());
        assertThat(bothDecoders.rolesWithoutBackend()).containsExactly("decode");
    }

    /** {@code launch} on another port: the proxy tells its backends by address and port. */
    private static LaunchPlan.Launch onPort(LaunchPlan.Launch launch, int port) {
        ProcessRecord r = launch.record();
        return new LaunchPlan.Launch(new ProcessRecord(r.name(), r.role(), r.host(), r.address(), port, r.devices(), r.extraPorts(),
                r.processGroup(), r.startTicks(), r.startedAt(), r.directory(), r.specHash() + port, r.spec(), null), launch.script(),
                launch.supervisor(), launch.interfaceAddress());
    }

    /** The built-in proxy (reconfigured while it runs) in front of e0, p0 and d0 on their own ports, and {@code more}. */
    private static LaunchPlan live(LaunchPlan.Launch... more) {
        List<LaunchPlan.Launch> nodes = new ArrayList<>(List.of(onPort(UNCHANGED.nodes().get(0), 8100),
                onPort(UNCHANGED.nodes().get(1), 8101), onPort(UNCHANGED.nodes().get(2), 8102)));
        nodes.addAll(List.of(more));
        return new LaunchPlan(nodes, UNCHANGED.proxy(), true);
    }

    private static UpPlan.Observation proxyListing(String... backends) {
        return new UpPlan.Observation(RUNNING, READY, List.of(backends));
    }

    @Test
    void aNodeAddedBehindTheBuiltInProxyIsAddedToItWhileItRuns() {
        LaunchPlan.Launch d1 = onPort(launch("d1", "decode", "b", List.of(3), spec -> spec), 8103);

        UpPlan plan = decide(live(d1), ran(live()), Map.of());

        assertThat(plan.lines()).containsExactly(
                "keep e0 (encoder on a): unchanged, ready",
                "keep p0 (prefill on a): unchanged, ready",
                "keep d0 (decode on b): unchanged, ready",
                "start d1 (decode on b): added to the topology",
                "reconfigure proxy (proxy on a): + d1 (decode 127.0.0.1:8103)",
                "EC directory /data/ec: created on b",
                "rolling, at most 1 serving node of a role at a time, each drained in the proxy before it stops and added once ready: "
                        + "1. start d1",
                "roles briefly without a backend: none",
                "proxy: reconfigured while it runs (+ d1 (decode 127.0.0.1:8103))");
        assertThat(plan.toStop()).as("the proxy is not stopped").isEmpty();
        assertThat(plan.unchanged()).isFalse();
    }

    @Test
    void aNodeRemovedBehindTheBuiltInProxyIsDrainedOutOfIt() {
        LaunchPlan.Launch d1 = onPort(launch("d1", "decode", "b", List.of(3), spec -> spec), 8103);

        UpPlan plan = decide(live(), ran(live(d1)), Map.of());

        assertThat(line(plan, "d1")).isEqualTo("stop d1 (decode on b): no longer in the topology");
        assertThat(line(plan, "proxy")).isEqualTo("reconfigure proxy (proxy on a): - d1 (decode 127.0.0.1:8103)");
        assertThat(plan.rollout().waves()).extracting(RolloutOrder.Wave::describe).containsExactly("stop d1");
        assertThat(plan.rolesWithoutBackend()).isEmpty();
    }

    @Test
    void aReadyNodeTheRunningProxyDoesNotListIsAddedBack() {
        // An interrupted rolling up removed d0 from the proxy, restarted it, and was stopped before it added it again.
        UpPlan plan = decide(live(), ran(live()), Map.of("proxy", proxyListing("encoder 127.0.0.1:8100", "prefill 127.0.0.1:8101")));

        assertThat(line(plan, "d0")).isEqualTo("keep d0 (decode on b): unchanged, ready");
        assertThat(line(plan, "proxy")).isEqualTo("reconfigure proxy (proxy on a): + d0 (decode 127.0.0.1:8102)");
        assertThat(plan.unchanged()).as("up has the proxy to change").isFalse();
    }

    @Test
    void aProxyListingWhatTheFileSaysIsKept() {
        UpPlan plan = decide(live(), ran(live()), Map.of("proxy",
                proxyListing("encoder 127.0.0.1:8100", "prefill 127.0.0.1:8101", "decode 127.0.0.1:8102")));

        assertThat(line(plan, "proxy")).isEqualTo("keep proxy (proxy on a): unchanged, ready");
        assertThat(plan.unchanged()).isTrue();
        assertThat(plan.summary()).containsExactly("EC directory /data/ec: untouched", "roles briefly without a backend: none",
                "proxy: kept");
    }

    @Test
    void theOnlyNodeOfARoleRestartedBehindTheBuiltInProxyIsNamedAndAnsweredWith503() {
        LaunchPlan changed = new LaunchPlan(List.of(live().nodes().get(0), live().nodes().get(1),
                onPort(launch("d0", "decode", "b", List.of(2), spec -> spec.flag("--max-num-seqs", "96")), 8102)), UNCHANGED.proxy(), true);

        UpPlan plan = decide(changed, ran(live()), Map.of());

        assertThat(line(plan, "d0")).isEqualTo("restart d0 (decode on b): --max-num-seqs 128 -> 96");
        assertThat(line(plan, "proxy")).isEqualTo("keep proxy (proxy on a): unchanged, ready");
        assertThat(plan.summary()).contains("roles briefly without a backend: decode",
                "meanwhile the proxy answers their requests with 503 and Retry-After", "proxy: kept");
    }

    @Test
    void theScriptProxyIsRestartedWhenItsBackendsChangeAndThePlanSaysWhy() {
        LaunchPlan before = new LaunchPlan(UNCHANGED.nodes(), launch("proxy", "proxy", "a", List.of(),
                spec -> { spec.argv.addAll(List.of("--decoder-ports", "8102")); return spec; }));
        LaunchPlan after = new LaunchPlan(UNCHANGED.nodes(), launch("proxy", "proxy", "a", List.of(),
                spec -> { spec.argv.addAll(List.of("--decoder-ports", "8103")); return spec; }));

        UpPlan plan = decide(after, ran(before), Map.of());

        assertThat(line(plan, "proxy")).isEqualTo("restart proxy (proxy on a): --decoder-ports 8102 -> 8103 "
                + "(the script proxy cannot change its backends while it runs)");
        assertThat(plan.rollout()).as("nothing rolls behind a proxy that restarts").isNull();
        assertThat(plan.summary()).contains("proxy: restarted; its endpoint is briefly unavailable");
    }

    @Test
    void theBuiltInProxyWhoseOwnFlagsChangeIsHandedOverOnItsPort() {
        LaunchPlan changed = new LaunchPlan(live().nodes(), launch("proxy", "proxy", "a", List.of(),
                spec -> spec.flag("--max-num-seqs", "4")), true);

        UpPlan plan = decide(changed, ran(live()), Map.of());

        assertThat(line(plan, "proxy")).isEqualTo("restart proxy (proxy on a): --max-num-seqs 128 -> 4");
        assertThat(plan.proxy()).isEqualTo(UpPlan.ProxyChange.HANDED_OVER);
        assertThat(plan.summary()).contains("proxy: restarted with a hand-over: the new one listens on the same port before "
                + "the old one stops and drains, no connection is refused");
        assertThat(plan.rollout()).as("the nodes roll behind the new proxy").isNotNull();
    }

    @Test
    void aBuiltInProxyWhoseKvFlowChangesIsRestartedAndNothingRolls() {
        LaunchPlan pull = new LaunchPlan(live().nodes(), launch("proxy", "proxy", "a", List.of(), spec -> {
            spec.argv.addAll(List.of("--kv-flow", "pull"));
            return spec;
        }), true);

        UpPlan plan = decide(pull, ran(live()), Map.of());

        assertThat(line(plan, "proxy")).isEqualTo("restart proxy (proxy on a): --kv-flow added (pull) (its KV flow changes, "
                + "layerwise -> pull: the nodes of both flows cannot be served at once, so nothing rolls)");
        assertThat(plan.proxy()).isEqualTo(UpPlan.ProxyChange.RESTARTED);
        assertThat(plan.rollout()).isNull();
        assertThat(plan.summary()).contains("proxy: restarted; its endpoint is briefly unavailable");
    }

    @Test
    void aDeadBuiltInProxyOrOneOnAnotherPortIsRestartedWithoutAHandOver() {
        LaunchPlan changed = new LaunchPlan(live().nodes(), launch("proxy", "proxy", "a", List.of(),
                spec -> spec.flag("--max-num-seqs", "4")), true);
        LaunchPlan moved = new LaunchPlan(live().nodes(), onPort(UNCHANGED.proxy(), 8001), true);

        UpPlan dead = decide(changed, ran(live()), Map.of("proxy", dead(ProcessState.Kind.GONE)));
        UpPlan elsewhere = decide(moved, ran(live()), Map.of());

        assertThat(dead.proxy()).isEqualTo(UpPlan.ProxyChange.RESTARTED);
        assertThat(dead.rollout()).isNull();
        assertThat(elsewhere.proxy()).as("a new port cannot be taken over").isEqualTo(UpPlan.ProxyChange.RESTARTED);
        assertThat(elsewhere.summary()).contains("proxy: restarted; its endpoint is briefly unavailable");
    }

    @Test
    void nothingRollsBehindABuiltInProxyWhoseControlChannelDoesNotAnswerYet() {
        LaunchPlan.Launch d1 = onPort(launch("d1", "decode", "b", List.of(3), spec -> spec), 8103);
        UpPlan.Observation starting = new UpPlan.Observation(RUNNING, LOADING);

        UpPlan plan = decide(live(d1), ran(live()), Map.of("proxy", starting));
        UpPlan answering = decide(live(d1), ran(live()), Map.of("proxy", new UpPlan.Observation(RUNNING, LOADING,
                List.of("encoder 127.0.0.1:8100", "prefill 127.0.0.1:8101", "decode 127.0.0.1:8102"))));

        assertThat(plan.rollout()).as("an interrupted up's proxy, still starting").isNull();
        assertThat(line(plan, "proxy")).startsWith("wait proxy (proxy on a): unchanged, alive, loading");
        assertThat(answering.rollout()).isNotNull();
        assertThat(line(answering, "proxy")).isEqualTo("reconfigure proxy (proxy on a): + d1 (decode 127.0.0.1:8103)");
    }

    /** A recorded process, of the group g0 when {@code group} (a node over several hosts). */
    private static ProcessRecord grouped(String name, boolean group) {
        return new ProcessRecord(name, "decode", "b", "10.0.0.2", name.contains("-dp") ? 0 : 8000, List.of(0), List.of(), 100, "1",
                STARTED, "/run", "h-" + name, null, null, null, group ? "g0" : null, null);
    }

    private static UpPlan.Row row(UpPlan.Action action, ProcessRecord record, String reason) {
        return new UpPlan.Row(action, record.name(), record.role(), record.host(), reason, record,
                new LaunchPlan.Launch(record, "#!/bin/sh\n", "", Optional.empty()));
    }

    @Test
    void theProcessesOfANodeOverSeveralHostsRestartTogether() {
        ProcessRecord leader = grouped("g0", true);
        ProcessRecord rank = grouped("g0-dp1", true);
        ProcessRecord other = grouped("d1", false);

        List<UpPlan.Row> rows = UpPlan.asGroups(List.of(row(UpPlan.Action.KEEP, leader, "unchanged, ready"),
                row(UpPlan.Action.RESTART, rank, "exited with status 1"), row(UpPlan.Action.KEEP, other, "unchanged, ready")));

        assertThat(rows).extracting(UpPlan.Row::line).containsExactly(
                "restart g0 (decode on b): with its group g0 (restart g0-dp1: exited with status 1)",
                "restart g0-dp1 (decode on b): exited with status 1",
                "keep d1 (decode on b): unchanged, ready");
        List<UpPlan.Row> kept = List.of(row(UpPlan.Action.KEEP, leader, "unchanged, ready"), row(UpPlan.Action.WAIT, rank, "loading"));
        assertThat(UpPlan.asGroups(kept)).as("nothing of the group moves").isEqualTo(kept);
        assertThat(UpPlan.asGroups(List.of(row(UpPlan.Action.WAIT, leader, "loading"), row(UpPlan.Action.RESTART, other, "changed"))))
                .extracting(UpPlan.Row::action).as("another node's restart is not the group's")
                .containsExactly(UpPlan.Action.WAIT, UpPlan.Action.RESTART);
    }
}
