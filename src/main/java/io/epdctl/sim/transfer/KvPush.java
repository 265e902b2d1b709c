package io.epdctl.sim.transfer;

/** One request's "KV cache" as the prefill instance pushed it: who sent it and how many bytes arrived. */
public record KvPush(String requestId, String senderEngineId, long bytes) {
}
