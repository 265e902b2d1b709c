package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** How epdctl reads what a host says of its containers: the decisions, as tables, on what hosts print. */
class ContainerOutputParsingTest {
    private static final Map<String, List<String>> DEVICES = new java.util.LinkedHashMap<>(Map.of("/dev/davinci3", List.of("d0")));

    static {
        DEVICES.put("/dev/davinci_manager", List.of("e0", "d0"));
    }

    static Stream<Arguments> checks() {
        String cli = "@epdctl docker-cli /usr/bin/docker\n";
        String answers = "@epdctl docker-daemon answers\n";
        String devicesPresent = "@epdctl device present /dev/davinci3\n@epdctl device present /dev/davinci_manager\n";
        return Stream.of(
                Arguments.of("all there", cli + answers + "@epdctl docker-image present img:1\n" + devicesPresent,
                        List.of("docker OK /usr/bin/docker, its daemon answers", "image OK img:1 is present",
                                "devices OK device files [/dev/davinci3, /dev/davinci_manager] present")),
                Arguments.of("no CLI", "@epdctl docker-cli absent\n" + devicesPresent,
                        List.of("docker FAILED docker is not installed (nodes here run in containers)",
                                "devices OK device files [/dev/davinci3, /dev/davinci_manager] present")),
                Arguments.of("daemon down", cli + "@epdctl docker-daemon failed Cannot connect to the Docker daemon at unix:///var/run/docker.sock. \n"
                        + devicesPresent,
                        List.of("docker FAILED docker's daemon does not answer: Cannot connect to the Docker daemon at unix:///var/run/docker.sock.",
                                "devices OK device files [/dev/davinci3, /dev/davinci_manager] present")),
                Arguments.of("image missing, a device missing, a login that prints",
                        "Welcome!\n" + cli + answers + "@epdctl docker-image absent img:2\n@epdctl device absent /dev/davinci3\n"
                                + "@epdctl device present /dev/davinci_manager\n",
                        List.of("docker OK /usr/bin/docker, its daemon answers",
                                "image FAILED img:2 is not on this host: docker pull img:2, or epdctl up --pull",
                                "devices FAILED d0: /dev/davinci3 is not on this host (a container gets the device files of its NPUs and the driver's)")),
                Arguments.of("nothing came back", "", List.of("docker FAILED the host did not answer whether docker is installed",
                        "devices FAILED d0: /dev/davinci3 is not on this host (a container gets the device files of its NPUs and the driver's)",
                        "devices FAILED e0, d0: /dev/davinci_manager is not on this host (a container gets the device files of its NPUs and the driver's)")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("checks")
    void checkFindings(String situation, String output, List<String> expected) {
        List<String> findings = ContainerChecks.findings("h", "docker", output, DEVICES).stream()
                .map(finding -> finding.check() + " " + finding.level() + " " + finding.message()).toList();

        assertThat(findings).containsExactlyElementsOf(expected);
    }

    @Test
    void containerStatesAsDockerInspectReportsThem() {
        String output = "motd\n@epdctl container e0 3f2a1b9c0d1e4f5a6b7c8d9e running 0\n@epdctl container d0 aa11bb22cc33dd44 exited 137\n"
                + "@epdctl container p0 none\n";

        Map<String, HostCommands.ContainerState> states = HostCommands.containers(output);

        assertThat(states).containsOnlyKeys("e0", "d0");
        assertThat(states.get("e0").describe()).isEqualTo("3f2a1b9c0d1e running");
        assertThat(states.get("d0").describe()).isEqualTo("aa11bb22cc33 exited (137)");
    }

    static Stream<Arguments> leftovers() {
        return Stream.of(
                Arguments.of("none left", "@epdctl containers-left\n", List.of()),
                Arguments.of("two left", "banner\n@epdctl containers-left 3f2a1b9c0d1e aa11bb22cc33\n", List.of("3f2a1b9c0d1e", "aa11bb22cc33")),
                Arguments.of("no report", "banner\n", null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("leftovers")
    void containersLeftAfterRemoval(String situation, String output, List<String> expected) {
        assertThat(HostCommands.containersLeft(output)).isEqualTo(expected);
    }
}
