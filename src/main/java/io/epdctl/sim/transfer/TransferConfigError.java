package io.epdctl.sim.transfer;

/** A {@code --ec-transfer-config} or {@code --kv-transfer-config} value vLLM's config validation rejects. */
public final class TransferConfigError extends Exception {
    TransferConfigError(String message) {
        super(message);
    }
}
