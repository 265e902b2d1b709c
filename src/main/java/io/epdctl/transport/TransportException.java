package io.epdctl.transport;

/**
 * A host could not be reached or a command could not be run there (refused connection, failed
 * login, unknown or changed host key, timeout). The message names the host and says what happened.
 */
public final class TransportException extends Exception {

    public TransportException(String message) {
        super(message);
    }

    public TransportException(String message, Throwable cause) {
        super(message, cause);
    }
}
