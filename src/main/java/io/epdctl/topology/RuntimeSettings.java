package io.epdctl.topology;

import java.util.List;

/**
 * What one level of the file ({@code vllm}, a host, a node) says about how nodes run: {@code runtime}
 * ({@code process} or {@code docker}), {@code image}, {@code docker.command}, {@code docker.args}; null
 * where that level says nothing. A node's own settings win over its host's, which win over {@code vllm}'s.
 * {@code runtimeAt} names where the runtime was given, for messages.
 */
record RuntimeSettings(String runtime, String runtimeAt, String image, String command, List<String> args) {
    static final String PROCESS = "process";
    static final String DOCKER = "docker";
    static final List<String> RUNTIMES = List.of(PROCESS, DOCKER);
    static final RuntimeSettings NONE = new RuntimeSettings(null, null, null, null, null);

    /** These settings, each taken from {@code base} where not given here. */
    RuntimeSettings over(RuntimeSettings base) {
        return new RuntimeSettings(
                runtime != null ? runtime : base.runtime,
                runtime != null ? runtimeAt : base.runtimeAt,
                image != null ? image : base.image,
                command != null ? command : base.command,
                args != null ? args : base.args);
    }

    boolean isDocker() {
        return DOCKER.equals(runtime);
    }

    /** The container of a node whose settings resolved to docker with an image. */
    Container container() {
        return new Container(image, command != null ? command : Container.DEFAULT_COMMAND, args != null ? args : List.of());
    }
}
