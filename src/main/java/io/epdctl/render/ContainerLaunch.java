package io.epdctl.render;

import io.epdctl.shell.Shell;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * How a node of {@code runtime: docker} is run: the container's {@code name}, its {@code labels} (deployment,
 * node, spec hash: how {@code down} finds what an interrupted {@code up} left), the CLI ({@code docker} or
 * {@code podman}), and the complete {@code docker run} argv ({@code runArgv}: detached, host network, the
 * node's devices, mounts, variables by name, the image at {@code imageAt}, then the same {@code vllm serve}
 * argv a host node runs). {@code driverMounts} are mounted read-only where the host has them, which only the host knows: the
 * script tests each as it starts. {@code stopTimeout} is what {@code docker stop -t} gives the container.
 */
public record ContainerLaunch(
        String command,
        String name,
        String image,
        Map<String, String> labels,
        List<String> runArgv,
        int imageAt,
        List<String> driverMounts,
        int stopTimeout) {

    public static final String DEPLOYMENT_LABEL = "io.epdctl.deployment";
    public static final String NODE_LABEL = "io.epdctl.node";
    public static final String SPEC_LABEL = "io.epdctl.spec";

    /** The device files every Ascend container needs besides its NPUs' (the vLLM-Ascend guides pass them all). */
    public static final List<String> MANAGER_DEVICES = List.of("/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc");

    /** The device files a container of these NPUs gets, at the same paths as on the host: each NPU's, then the manager devices. */
    public static List<String> deviceFiles(List<Integer> npus) {
        List<String> files = new ArrayList<>(npus.stream().map(npu -> "/dev/davinci" + npu).toList());
        files.addAll(MANAGER_DEVICES);
        return List.copyOf(files);
    }

    /** The container of a deployment's node: always a valid container name, whatever the names are. */
    public static String containerName(String deployment, String node) {
        return "epdctl-" + deployment + "-" + node;
    }

    /**
     * The shell lines that run the container in the foreground of the node's script, so that the wrapper's pid
     * and exit files, epdctl's probe and stop (SIGTERM to the script's process group) work as for a process:
     * a container of this node left by an earlier run is removed (found by its labels, never another
     * deployment's); the container is started detached; its output is copied into the script's (the node's log);
     * the script waits for it, in the background so that a SIGTERM or SIGINT is handled at once by stopping
     * ({@code docker stop -t}) and removing the container; when the container ends by itself the script ends
     * with its exit status, and the container is kept for {@code docker inspect} until the next start or
     * {@code down}.
     */
    public String script() {
        String docker = "\"$epd_docker\"";
        String deploymentLabel = Shell.quote("label=" + DEPLOYMENT_LABEL + "=" + labels.get(DEPLOYMENT_LABEL));
        String nodeLabel = Shell.quote("label=" + NODE_LABEL + "=" + labels.get(NODE_LABEL));
        List<String> lines = new ArrayList<>();
        lines.add("epd_docker=" + Shell.quote(command));
        lines.add("epd_container=" + Shell.quote(name));
        lines.add("# A container this node left (an earlier run, a killed script), found by its labels.");
        lines.add(docker + " ps -aq --filter " + deploymentLabel + " --filter " + nodeLabel
                + " | xargs -r " + docker + " rm -f > /dev/null");
        lines.add("# The driver's files, mounted where this host has them, as the vLLM-Ascend guides mount them.");
        lines.add("set --");
        lines.add("for epd_path in " + driverMounts.stream().map(Shell::quote).collect(Collectors.joining(" "))
                + "; do if [ -e \"$epd_path\" ]; then set -- \"$@\" -v \"$epd_path:$epd_path:ro\"; fi; done");
        lines.add(runCommand() + " > /dev/null");
        lines.add("set +e");
        lines.add("epd_stop() {");
        lines.add("  trap '' TERM INT");
        lines.add("  echo \"epdctl: stopping container $epd_container ($epd_docker stop -t " + stopTimeout + ", then rm)\"");
        lines.add("  " + docker + " stop -t " + stopTimeout + " \"$epd_container\" > /dev/null 2>&1");
        lines.add("  epd_code=$(" + docker + " inspect -f '{{.State.ExitCode}}' \"$epd_container\" 2> /dev/null) || epd_code=143");
        lines.add("  " + docker + " rm -f \"$epd_container\" > /dev/null 2>&1");
        lines.add("  exit \"$epd_code\"");
        lines.add("}");
        lines.add("trap epd_stop TERM INT");
        lines.add(docker + " logs -f \"$epd_container\" 2>&1 &");
        lines.add("epd_logs=$!");
        lines.add(docker + " wait \"$epd_container\" > /dev/null &");
        lines.add("wait $!");
        lines.add("wait \"$epd_logs\"");
        lines.add("epd_code=$(" + docker + " inspect -f '{{.State.ExitCode}}' \"$epd_container\") || epd_code=1");
        lines.add("echo \"epdctl: container $epd_container exited with status $epd_code\"");
        lines.add("exit \"$epd_code\"");
        return String.join("\n", lines);
    }

    /**
     * The {@code docker run} command as the script writes it: an option per line before the image, the image on a
     * line of its own, then the node's argv with a flag per line; the driver mounts the script found come in as
     * {@code "$@"}.
     */
    private String runCommand() {
        StringBuilder out = new StringBuilder("\"$epd_docker\" run -d \"$@\"");
        // runArgv begins with COMMAND run -d: the script runs the CLI it names in $epd_docker
        for (int i = 3; i < runArgv.size(); i++) {
            String word = runArgv.get(i);
            boolean newLine = i < imageAt ? word.startsWith("-") : i == imageAt || word.startsWith("--");
            out.append(newLine ? " \\\n    " : " ").append(Shell.word(word));
        }
        return out.toString();
    }
}
