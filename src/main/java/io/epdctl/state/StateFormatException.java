package io.epdctl.state;

import java.io.IOException;

/** A state file this epdctl cannot read: a newer or unknown format. The message names the file and what to do. */
public final class StateFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public StateFormatException(String message) {
        super(message);
    }
}
