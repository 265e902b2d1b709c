package io.epdctl.render;

import io.epdctl.topology.Container;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/** Derives a node's {@code docker run} from its container settings and what a host node of it would run. */
final class ContainerRenderer {
    /**
     * The driver's files the vLLM-Ascend multi-node PD tutorial mounts into its containers
     * (docs/source/tutorials/features/pd_disaggregation_mooncake_multi_node.md): mounted read-only where the host has them.
     */
    static final List<String> DRIVER_MOUNTS = List.of(
            "/usr/local/dcmi",
            "/usr/local/Ascend/driver/tools/hccn_tool",
            "/usr/local/bin/npu-smi",
            "/usr/local/Ascend/driver/lib64",
            "/usr/local/Ascend/driver/version.info",
            "/etc/ascend_install.info",
            "/etc/hccn.conf");
    /** docker stop's grace: below down's default --grace (30 s), so the script has stopped the container before down escalates. */
    static final int STOP_TIMEOUT_SECONDS = 20;

    private final String deployment;
    private final String node;
    private final Container container;

    ContainerRenderer(String deployment, String node, Container container) {
        this.deployment = deployment;
        this.node = node;
        this.container = container;
    }

    /**
     * {@code ASCEND_RT_VISIBLE_DEVICES} inside the container: a container given some NPUs' device files numbers
     * them 0, 1, ... in the order of their ids, so each of the node's NPUs (in its order) becomes its rank among them.
     */
    static String visibleDevices(List<Integer> npus) {
        List<Integer> sorted = npus.stream().sorted().toList();
        return npus.stream().map(npu -> String.valueOf(sorted.indexOf(npu))).collect(Collectors.joining(","));
    }

    /**
     * {@code mounts} are {@code HOST:CONTAINER[:ro]} volumes; {@code variables} and {@code lookedUp} (set by the
     * script's interface lookup) are passed by name, their values being in the script's environment: no value,
     * secrets included, is on the docker command line. With {@code setup} lines, they run in the container's bash
     * before {@code argv} is exec'ed.
     */
    ContainerLaunch launch(List<Integer> npus, List<String> mounts, Collection<String> variables, List<String> lookedUp,
            List<String> setup, List<String> argv) {
        List<String> options = new ArrayList<>(List.of("--net=host"));
        if (!container.sizesSharedMemory()) {
            options.add("--ipc=host"); // vLLM's processes share tensors through shared memory; docker's default 64 MB is too small
        }
        ContainerLaunch.deviceFiles(npus).forEach(device -> options.addAll(List.of("--device", device)));
        mounts.forEach(mount -> options.addAll(List.of("-v", mount)));
        Set<String> names = new LinkedHashSet<>(variables);
        names.addAll(lookedUp);
        names.forEach(name -> options.addAll(List.of("-e", name)));
        options.addAll(container.args());
        List<String> command = new ArrayList<>();
        if (!setup.isEmpty()) {
            command.addAll(List.of("bash", "-c", String.join("\n", setup) + "\nexec \"$@\"", "epdctl-setup"));
        }
        command.addAll(argv);

        Map<String, String> labels = new LinkedHashMap<>();
        labels.put(ContainerLaunch.DEPLOYMENT_LABEL, deployment);
        labels.put(ContainerLaunch.NODE_LABEL, node);
        labels.put(ContainerLaunch.SPEC_LABEL, sha256(container.image() + "\n" + String.join("\n", options) + "\n"
                + String.join("\n", command)));
        String name = ContainerLaunch.containerName(deployment, node);
        List<String> run = new ArrayList<>(List.of(container.command(), "run", "-d", "--name", name));
        labels.forEach((key, value) -> run.addAll(List.of("--label", key + "=" + value)));
        run.addAll(options);
        int imageAt = run.size();
        run.add(container.image());
        run.addAll(command);
        return new ContainerLaunch(container.command(), name, container.image(), labels, List.copyOf(run), imageAt,
                DRIVER_MOUNTS, STOP_TIMEOUT_SECONDS);
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
