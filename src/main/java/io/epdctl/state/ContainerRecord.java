package io.epdctl.state;

/**
 * The container a node runs in ({@code runtime: docker}): the CLI that runs it on its host, its name, and the
 * deployment its labels name (with the node's name, they find every container of the node).
 */
public record ContainerRecord(String command, String name, String deployment) {
}
