package io.epdctl.render;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.epdctl.topology.Listener;
import io.epdctl.topology.Placement;
import io.epdctl.topology.RestartPolicy;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Everything needed to start one process of a deployment on its host: who it is ({@code name}, {@code role}),
 * where it runs and what it holds there ({@code placement}: the host, its listeners and its NPUs, as
 * {@link io.epdctl.topology.Footprint} derives them), the environment it gets, the operator's setup lines
 * (shell code, run as written), the directories it needs, and its argv. {@code interfaceAddress} is the
 * address whose network interface the script looks up as it starts ({@link NetworkSettings}), which the
 * host must therefore carry; empty when there is none. {@code restart} is what the supervisor that leads its
 * process group on the host does when it exits. {@code container} is how a node of {@code runtime: docker}
 * runs (its script then runs the container; {@code setup} is what runs on the host before it, and the topology's
 * setup lines run inside the container); null for a host process. {@code readiness} is the proxy's GET route that
 * answers 200 once it serves (its kind's); null for a node, which is ready when {@code /health} answers 200 and
 * {@code /v1/models} lists the served model. {@code group} names the node whose processes over several hosts this is
 * one of (null for a node on one host).
 */
public record LaunchSpec(
        String name,
        String role,
        String address,
        @JsonIgnore Placement placement,
        Map<String, String> env,
        List<String> setup,
        List<String> directories,
        List<String> argv,
        @JsonIgnore Optional<String> interfaceAddress,
        @JsonIgnore RestartPolicy restart,
        @JsonInclude(JsonInclude.Include.NON_NULL) ContainerLaunch container,
        @JsonInclude(JsonInclude.Include.NON_NULL) String readiness,
        @JsonInclude(JsonInclude.Include.NON_NULL) String group) {

    /** A process of its own, not one of a node over several hosts, without a readiness route of its own (a node). */
    public LaunchSpec(String name, String role, String address, Placement placement, Map<String, String> env, List<String> setup,
            List<String> directories, List<String> argv, Optional<String> interfaceAddress, RestartPolicy restart,
            ContainerLaunch container) {
        this(name, role, address, placement, env, setup, directories, argv, interfaceAddress, restart, container, null, null);
    }

    /** What its supervisor does when it exits, as the topology spells it. */
    @JsonProperty("restart")
    public String restartPolicy() {
        return restart.yamlName();
    }

    @JsonProperty
    public String host() {
        return placement.host();
    }

    /** The HTTP port; 0 for a headless rank of a node over several hosts, which serves none. */
    @JsonProperty
    public int port() {
        return placement.servesHttp() ? placement.httpPort() : 0;
    }

    /** The NPUs; empty for the proxy. */
    @JsonProperty
    public List<Integer> devices() {
        return placement.npus();
    }

    @JsonProperty
    public List<Listener> listeners() {
        return placement.listeners();
    }
}
