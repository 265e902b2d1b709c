package io.epdctl.lifecycle;

/** A deployment step failed; the message says which node or host, and what happened. */
public final class DeploymentException extends Exception {

    public DeploymentException(String message) {
        super(message);
    }
}
