package io.epdctl.lifecycle;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** What {@code check} makes of a host's answers about its container runtime ({@link HostCommands#containerFacts}). */
final class ContainerChecks {
    private ContainerChecks() {
    }

    /**
     * The findings of check {@code docker} (the CLI, its daemon, the images) and {@code devices} (each device file a
     * container gets; {@code devices} maps each to the nodes that need it).
     */
    static List<Preflight.Finding> findings(String host, String command, String output, Map<String, List<String>> devices) {
        List<Preflight.Finding> findings = new ArrayList<>();
        List<String> cli = HostCommands.reports(output, "docker-cli");
        if (cli.isEmpty()) {
            findings.add(new Preflight.Finding(host, "docker", Preflight.Level.FAILED, "the host did not answer whether " + command
                    + " is installed"));
        } else if (cli.get(0).equals("absent")) {
            findings.add(new Preflight.Finding(host, "docker", Preflight.Level.FAILED,
                    command + " is not installed (nodes here run in containers)"));
        } else {
            List<String> daemon = HostCommands.reports(output, "docker-daemon");
            if (daemon.isEmpty() || daemon.get(0).startsWith("failed")) {
                findings.add(new Preflight.Finding(host, "docker", Preflight.Level.FAILED, command + "'s daemon does not answer: "
                        + (daemon.isEmpty() ? "no answer" : daemon.get(0).substring("failed".length()).strip())));
            } else {
                findings.add(new Preflight.Finding(host, "docker", Preflight.Level.OK, cli.get(0) + ", its daemon answers"));
                for (String image : HostCommands.reports(output, "docker-image")) {
                    String[] fields = image.split(" ", 2);
                    findings.add(fields[0].equals("present")
                            ? new Preflight.Finding(host, "image", Preflight.Level.OK, fields[1] + " is present")
                            : new Preflight.Finding(host, "image", Preflight.Level.FAILED, fields[1] + " is not on this host: "
                                    + command + " pull " + fields[1] + ", or epdctl up --pull"));
                }
            }
        }
        List<String> present = new ArrayList<>();
        for (String device : HostCommands.reports(output, "device")) {
            String[] fields = device.split(" ", 2);
            if (fields.length == 2 && fields[0].equals("present")) {
                present.add(fields[1]);
            }
        }
        devices.forEach((device, nodes) -> {
            if (!present.contains(device)) {
                findings.add(new Preflight.Finding(host, "devices", Preflight.Level.FAILED, String.join(", ", nodes) + ": " + device
                        + " is not on this host (a container gets the device files of its NPUs and the driver's)"));
            }
        });
        if (present.containsAll(devices.keySet()) && !devices.isEmpty()) {
            findings.add(new Preflight.Finding(host, "devices", Preflight.Level.OK, "device files " + devices.keySet() + " present"));
        }
        return findings;
    }
}
