package io.epdctl.sim;

import java.util.Map;
import java.util.OptionalInt;

/** Fault injection and timing, from {@code VLLM_SIM_*} environment variables (see docs/simulator.md). */
record Faults(
        long startupDelayMillis,
        boolean crashOnStartup,
        OptionalInt crashAfterRequests,
        int healthStatus,
        long tokenDelayMillis,
        boolean ignoreSigterm,
        long kvTimeoutMillis,
        long encodeDelayMillis) {

    static final long DEFAULT_STARTUP_DELAY_MILLIS = 100;
    static final long DEFAULT_KV_TIMEOUT_MILLIS = 30_000;

    /** @throws IllegalArgumentException naming the variable and its bad value */
    static Faults fromEnvironment(Map<String, String> env) {
        int crashAfter = (int) number(env, "VLLM_SIM_CRASH_AFTER_REQUESTS", -1);
        int health = (int) number(env, "VLLM_SIM_HEALTH_STATUS", 200);
        if (health < 100 || health > 599) {
            throw new IllegalArgumentException("VLLM_SIM_HEALTH_STATUS must be an HTTP status (100-599), got " + health);
        }
        return new Faults(
                number(env, "VLLM_SIM_STARTUP_DELAY_MS", DEFAULT_STARTUP_DELAY_MILLIS),
                flag(env, "VLLM_SIM_CRASH_ON_STARTUP"),
                crashAfter < 0 ? OptionalInt.empty() : OptionalInt.of(crashAfter),
                health,
                number(env, "VLLM_SIM_TOKEN_DELAY_MS", 0),
                flag(env, "VLLM_SIM_IGNORE_SIGTERM"),
                number(env, "VLLM_SIM_KV_TIMEOUT_MS", DEFAULT_KV_TIMEOUT_MILLIS),
                number(env, "VLLM_SIM_ENCODE_DELAY_MS", 0));
    }

    private static long number(Map<String, String> env, String name, long fallback) {
        String value = env.get(name);
        if (value == null || value.isBlank()) {
            return fallback;
        }
        try {
            long parsed = Long.parseLong(value.strip());
            if (parsed >= 0) {
                return parsed;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(name + " must be a whole number >= 0, got '" + value + "'");
    }

    private static boolean flag(Map<String, String> env, String name) {
        String value = env.getOrDefault(name, "").strip().toLowerCase();
        return switch (value) {
            case "", "0", "false", "no" -> false;
            case "1", "true", "yes" -> true;
            default -> throw new IllegalArgumentException(name + " must be 1 or 0, got '" + env.get(name) + "'");
        };
    }
}
