package io.epdctl.sim;

import io.epdctl.sim.transfer.EcConfig;
import io.epdctl.sim.transfer.KvConfig;
import io.epdctl.sim.transfer.TransferConfigError;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Parses {@code vllm serve MODEL [flags]} the way vLLM's argparse does: {@code --flag value} and
 * {@code --flag=value}, underscores accepted for dashes, {@code --x/--no-x} booleans, last occurrence wins,
 * unknown flags rejected. Only the flags below are known; any other, even one real vLLM has, is rejected.
 */
final class ServeArgsParser {
    private enum Kind { INT, FLOAT, STRING, STRINGS, BOOLEAN, STORE_TRUE, JSON }

    private static final Map<String, Kind> FLAGS = Map.ofEntries(
            Map.entry("host", Kind.STRING),
            Map.entry("port", Kind.INT),
            Map.entry("served-model-name", Kind.STRINGS),
            Map.entry("gpu-memory-utilization", Kind.FLOAT),
            Map.entry("max-model-len", Kind.STRING), // vLLM accepts human-readable sizes such as 32k
            Map.entry("max-num-seqs", Kind.INT),
            Map.entry("max-num-batched-tokens", Kind.INT),
            Map.entry("enforce-eager", Kind.BOOLEAN),
            Map.entry("enable-request-id-headers", Kind.STORE_TRUE),
            Map.entry("enable-prefix-caching", Kind.BOOLEAN),
            Map.entry("tensor-parallel-size", Kind.INT),
            Map.entry("data-parallel-size", Kind.INT),
            Map.entry("data-parallel-size-local", Kind.INT),
            Map.entry("data-parallel-start-rank", Kind.INT),
            Map.entry("data-parallel-rank", Kind.INT),
            Map.entry("data-parallel-address", Kind.STRING),
            Map.entry("data-parallel-rpc-port", Kind.INT),
            Map.entry("headless", Kind.STORE_TRUE),
            Map.entry("pipeline-parallel-size", Kind.INT),
            Map.entry("ec-transfer-config", Kind.JSON),
            Map.entry("kv-transfer-config", Kind.JSON),
            Map.entry("allowed-local-media-path", Kind.STRING),
            Map.entry("mm-encoder-only", Kind.BOOLEAN),
            Map.entry("trust-remote-code", Kind.BOOLEAN),
            Map.entry("dtype", Kind.STRING),
            Map.entry("seed", Kind.INT),
            Map.entry("block-size", Kind.INT),
            Map.entry("disable-log-stats", Kind.STORE_TRUE),
            Map.entry("uvicorn-log-level", Kind.STRING));
    private static final Map<String, String> SHORT_FLAGS = Map.of("-tp", "tensor-parallel-size",
            "-dp", "data-parallel-size", "-pp", "pipeline-parallel-size");

    private ServeArgsParser() {
    }

    /**
     * Arguments after {@code serve}. Syntax and JSON errors are {@link ArgumentError}s (argparse exits 2);
     * values that only the engine configuration checks are {@link StartupFailure}s.
     */
    static ServeArgs parse(List<String> args) throws ArgumentError, StartupFailure {
        Map<String, Object> values = new HashMap<>();
        List<String> positionals = new ArrayList<>();
        List<String> unrecognized = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (!arg.startsWith("-") || arg.equals("-")) {
                (positionals.isEmpty() ? positionals : unrecognized).add(arg);
                continue;
            }
            String name;
            String inlineValue = null;
            if (SHORT_FLAGS.containsKey(arg)) {
                name = SHORT_FLAGS.get(arg);
            } else if (arg.startsWith("--")) {
                int equals = arg.indexOf('=');
                name = (equals < 0 ? arg.substring(2) : arg.substring(2, equals)).replace('_', '-');
                inlineValue = equals < 0 ? null : arg.substring(equals + 1);
            } else {
                unrecognized.add(arg);
                continue;
            }
            boolean negated = name.startsWith("no-") && FLAGS.get(name.substring(3)) == Kind.BOOLEAN;
            String key = negated ? name.substring(3) : name;
            Kind kind = FLAGS.get(key);
            if (kind == null) {
                unrecognized.add(arg);
                continue;
            }
            String display = kind == Kind.BOOLEAN ? "--" + key + "/--no-" + key : "--" + key;
            if (kind == Kind.BOOLEAN || kind == Kind.STORE_TRUE) {
                if (inlineValue != null) {
                    throw new ArgumentError("argument " + display + ": ignored explicit argument '" + inlineValue + "'");
                }
                values.put(key, !negated);
            } else if (kind == Kind.STRINGS) {
                List<String> list = new ArrayList<>();
                if (inlineValue != null) {
                    list.add(inlineValue);
                } else {
                    while (i + 1 < args.size() && !args.get(i + 1).startsWith("-")) {
                        list.add(args.get(++i));
                    }
                }
                if (list.isEmpty()) {
                    throw new ArgumentError("argument " + display + ": expected at least one argument");
                }
                values.put(key, list);
            } else {
                String value = inlineValue;
                if (value == null) {
                    if (i + 1 >= args.size() || looksLikeFlag(args.get(i + 1))) {
                        throw new ArgumentError("argument " + display + ": expected one argument");
                    }
                    value = args.get(++i);
                }
                values.put(key, convert(display, kind, value));
            }
        }
        if (!unrecognized.isEmpty()) {
            throw new ArgumentError("unrecognized arguments: " + String.join(" ", unrecognized));
        }
        if (positionals.isEmpty()) {
            throw new ArgumentError("the following arguments are required: model_tag");
        }
        return build(positionals.get(0), values);
    }

    private static boolean looksLikeFlag(String arg) {
        return arg.startsWith("-") && !arg.matches("-\\d+(\\.\\d*)?");
    }

    private static Object convert(String display, Kind kind, String value) throws ArgumentError {
        try {
            return switch (kind) {
                case INT -> Integer.parseInt(value.strip());
                case FLOAT -> Double.parseDouble(value.strip());
                default -> value;
            };
        } catch (NumberFormatException e) {
            throw new ArgumentError("argument " + display + ": invalid " + (kind == Kind.INT ? "int" : "float")
                    + " value: '" + value + "'");
        }
    }

    @SuppressWarnings("unchecked")
    private static ServeArgs build(String model, Map<String, Object> v) throws ArgumentError, StartupFailure {
        Optional<EcConfig> ec;
        Optional<KvConfig> kv;
        try {
            ec = v.containsKey("ec-transfer-config")
                    ? Optional.of(EcConfig.parse((String) v.get("ec-transfer-config"))) : Optional.empty();
        } catch (TransferConfigError e) {
            throw new ArgumentError("argument --ec-transfer-config: " + e.getMessage());
        }
        try {
            kv = v.containsKey("kv-transfer-config")
                    ? Optional.of(KvConfig.parse((String) v.get("kv-transfer-config"))) : Optional.empty();
        } catch (TransferConfigError e) {
            throw new ArgumentError("argument --kv-transfer-config: " + e.getMessage());
        }
        double gpuMemory = (double) v.getOrDefault("gpu-memory-utilization", 0.9);
        if (!(gpuMemory > 0 && gpuMemory <= 1)) {
            throw validation("CacheConfig", "gpu_memory_utilization", gpuMemory,
                    gpuMemory <= 0 ? "Input should be greater than 0" : "Input should be less than or equal to 1");
        }
        int tp = positive(v, "tensor-parallel-size", "ParallelConfig", 1);
        int dp = positive(v, "data-parallel-size", "ParallelConfig", 1);
        int maxNumSeqs = positive(v, "max-num-seqs", "SchedulerConfig", 256);
        Optional<Integer> batched = v.containsKey("max-num-batched-tokens")
                ? Optional.of(positive(v, "max-num-batched-tokens", "SchedulerConfig", 0)) : Optional.empty();
        Optional<Integer> rank = Optional.ofNullable((Integer) v.get("data-parallel-rank"));
        if (rank.isPresent() && (rank.get() < 0 || rank.get() >= dp)) {
            throw new StartupFailure("ValueError: data_parallel_rank " + rank.get() + " is outside 0-" + (dp - 1));
        }
        if (rank.isPresent() && (v.containsKey("headless") || v.containsKey("data-parallel-start-rank"))) {
            throw new ArgumentError("argument --data-parallel-rank: not allowed with --headless or --data-parallel-start-rank");
        }
        // --data-parallel-rank: this process runs that one rank with its own API server (external load balancing).
        int local = rank.isPresent() ? 1 : positive(v, "data-parallel-size-local", "ParallelConfig", dp);
        int startRank = rank.orElse((int) v.getOrDefault("data-parallel-start-rank", 0));
        if (local > dp) {
            throw new StartupFailure("ValueError: data_parallel_size_local (" + local + ") must be <= data_parallel_size (" + dp + ")");
        }
        if (startRank < 0 || startRank + local > dp) {
            throw new StartupFailure("ValueError: data_parallel_start_rank " + startRank + " with " + local
                    + " local rank(s) exceeds data_parallel_size " + dp);
        }
        boolean headless = (boolean) v.getOrDefault("headless", false);
        if (!headless && startRank != 0 && rank.isEmpty()) {
            throw new ArgumentError("argument --data-parallel-start-rank: only the headless processes of a data parallel "
                    + "group start at a rank other than 0 (add --headless)");
        }
        if (headless && local == dp) {
            throw new StartupFailure("ValueError: a headless process with every data parallel rank has no head node to join "
                    + "(set --data-parallel-size-local)");
        }
        int rpcPort = (int) v.getOrDefault("data-parallel-rpc-port", ServeArgs.DEFAULT_RPC_PORT);
        if (rpcPort < 1 || rpcPort > 65535) {
            throw new StartupFailure("OverflowError: bind(): port must be 0-65535.");
        }
        int port = (int) v.getOrDefault("port", 8000);
        if (port < 0 || port > 65535) {
            throw new StartupFailure("OverflowError: bind(): port must be 0-65535.");
        }
        return new ServeArgs(model,
                Optional.ofNullable((String) v.get("host")),
                port,
                (List<String>) v.getOrDefault("served-model-name", List.of()),
                gpuMemory,
                maxModelLen((String) v.get("max-model-len")),
                maxNumSeqs,
                batched,
                (boolean) v.getOrDefault("enforce-eager", false),
                (boolean) v.getOrDefault("enable-request-id-headers", false),
                (boolean) v.getOrDefault("enable-prefix-caching", true),
                tp, dp, ec, kv,
                Optional.ofNullable((String) v.get("allowed-local-media-path")),
                (boolean) v.getOrDefault("mm-encoder-only", false),
                headless, local, startRank,
                Optional.ofNullable((String) v.get("data-parallel-address")),
                rpcPort, rank);
    }

    private static int positive(Map<String, Object> v, String flag, String configClass, int fallback)
            throws StartupFailure {
        int value = (int) v.getOrDefault(flag, fallback);
        if (v.containsKey(flag) && value < 1) {
            throw validation(configClass, flag.replace('-', '_'), value, "Input should be greater than 0");
        }
        return value;
    }

    /** The model's context length: vLLM reads it from the model; the simulator's models have 32768. */
    private static int maxModelLen(String text) throws ArgumentError {
        if (text == null) {
            return 32768;
        }
        String t = text.strip().toLowerCase();
        int multiplier = t.endsWith("k") ? 1000 : t.endsWith("m") ? 1_000_000 : 1;
        try {
            int value = Integer.parseInt(multiplier == 1 ? t : t.substring(0, t.length() - 1)) * multiplier;
            if (value < 1) {
                throw new NumberFormatException();
            }
            return value;
        } catch (NumberFormatException e) {
            throw new ArgumentError("argument --max-model-len: invalid human_readable_int value: '" + text + "'");
        }
    }

    private static StartupFailure validation(String configClass, String field, Object value, String message) {
        return new StartupFailure("pydantic_core._pydantic_core.ValidationError: 1 validation error for "
                + configClass + "\n" + field + "\n  " + message + " [input_value=" + value + "]");
    }
}
