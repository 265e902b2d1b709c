package io.epdctl.topology;

import java.time.Duration;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How the built-in proxy retries, times out, probes, serves and sends images to encoders, and the one definition of the flags
 * that set it: their names, what each takes, its default and its help. {@code epdctl proxy} takes them as
 * options, a topology's {@code proxy.args} may set them, and {@code validate} checks them there, all from
 * here (the proxy's other flags, its address and backends, epdctl derives from the topology).
 */
public record ProxyTuning(int maxRetries, Duration retryDelay, Duration backendTimeout, Duration healthInterval,
        int eventLoops, Duration drainTimeout, EncoderDispatch encoderDispatch) {

    public ProxyTuning {
        check(Flag.MAX_RETRIES, maxRetries);
        check(Flag.RETRY_DELAY, seconds(retryDelay));
        check(Flag.BACKEND_TIMEOUT, seconds(backendTimeout));
        check(Flag.HEALTH_INTERVAL, seconds(healthInterval));
        check(Flag.EVENT_LOOPS, eventLoops);
        check(Flag.DRAIN_TIMEOUT, seconds(drainTimeout));
        if (encoderDispatch == null) {
            throw new IllegalArgumentException("--" + Flag.ENCODER_DISPATCH_MODE.flag() + ": missing");
        }
    }

    /** With the default --encoder-dispatch-mode. */
    public ProxyTuning(int maxRetries, Duration retryDelay, Duration backendTimeout, Duration healthInterval,
            int eventLoops, Duration drainTimeout) {
        this(maxRetries, retryDelay, backendTimeout, healthInterval, eventLoops, drainTimeout, EncoderDispatch.SINGLE);
    }

    /** With the default --drain-timeout and --encoder-dispatch-mode. */
    public ProxyTuning(int maxRetries, Duration retryDelay, Duration backendTimeout, Duration healthInterval, int eventLoops) {
        this(maxRetries, retryDelay, backendTimeout, healthInterval, eventLoops,
                seconds(Double.parseDouble(Flag.DRAIN_TIMEOUT.defaultValue)));
    }

    /** The same tuning with another encoder dispatch. */
    public ProxyTuning withEncoderDispatch(EncoderDispatch dispatch) {
        return new ProxyTuning(maxRetries, retryDelay, backendTimeout, healthInterval, eventLoops, drainTimeout, dispatch);
    }

    /**
     * How a request's images reach the encoders (--encoder-dispatch-mode, as vLLM's disagg_epd_proxy.py names it):
     * the whole request to one encoder, or one encoder request per image or video, in parallel.
     */
    public enum EncoderDispatch {
        SINGLE("single"), FANOUT("fanout");

        private final String value;

        EncoderDispatch(String value) {
            this.value = value;
        }

        /** As written on the command line. */
        public String value() {
            return value;
        }

        static Optional<EncoderDispatch> of(String value) {
            return Arrays.stream(values()).filter(mode -> mode.value.equals(value)).findFirst();
        }

        static List<String> names() {
            return Arrays.stream(values()).map(EncoderDispatch::value).toList();
        }
    }

    public enum Flag {
        MAX_RETRIES("max-retries", true, 1, "3",
                "Attempts per backend call before any byte of its answer came back, on another healthy backend"
                        + " where there is one"),
        RETRY_DELAY("retry-delay", false, 0, "0.001", "Delay before the first retry, doubled for each further one"),
        BACKEND_TIMEOUT("backend-timeout", false, 0, "600",
                "Longest a backend may send nothing, before its answer or between two chunks of it, before the"
                        + " request fails with 504 (0: no limit; 600 is the OpenAI client's own timeout)"),
        HEALTH_INTERVAL("health-interval", false, 0.001, "2", "How often every backend's /health is probed"),
        EVENT_LOOPS("event-loops", true, 1, "1",
                "Event loop threads serving HTTP; one serves thousands of requests per second, so raise it only"
                        + " when that thread is busy"),
        DRAIN_TIMEOUT("drain-timeout", false, 0, "20",
                "On SIGTERM: longest wait for the requests in flight to end after it stopped accepting connections"
                        + " (within the 30 s that up and down give it by default before SIGKILL)"),
        ENCODER_DISPATCH_MODE("encoder-dispatch-mode", "single",
                "How a request with several images or videos reaches the encoders: single (the whole request to one"
                        + " encoder) or fanout (one encoder request per image or video, in parallel, spread over the"
                        + " healthy encoders)");

        private final String name;
        /** Null for a number; else the words it takes. */
        private final List<String> choices;
        private final boolean whole;
        private final double minimum;
        private final String defaultValue;
        private final String help;

        Flag(String name, boolean whole, double minimum, String defaultValue, String help) {
            this.name = name;
            this.choices = null;
            this.whole = whole;
            this.minimum = minimum;
            this.defaultValue = defaultValue;
            this.help = help;
        }

        /** A flag that takes one of the words of {@link EncoderDispatch}. */
        Flag(String name, String defaultValue, String help) {
            this.name = name;
            this.choices = EncoderDispatch.names();
            this.whole = false;
            this.minimum = 0;
            this.defaultValue = defaultValue;
            this.help = help;
        }

        /** Without its dashes, as {@code proxy.args} writes it. */
        public String flag() {
            return name;
        }

        public String paramLabel() {
            return choices != null ? String.join("|", choices) : whole ? "N" : "SECONDS";
        }

        /** The option's description, with its default. */
        public String help() {
            return help + " (default: " + defaultValue + ").";
        }

        public static Optional<Flag> of(String flag) {
            return Arrays.stream(values()).filter(candidate -> candidate.name.equals(flag)).findFirst();
        }

        public static List<String> flags() {
            return Arrays.stream(values()).map(Flag::flag).toList();
        }

        /** What is wrong with {@code value} for this flag, if anything. */
        public Optional<String> problem(String value) {
            if (choices != null) {
                return choices.contains(value) ? Optional.empty()
                        : Optional.of("expected " + expected() + ", got '" + value + "'");
            }
            try {
                double number = whole ? Integer.parseInt(value) : Double.parseDouble(value);
                return Double.isFinite(number) ? problem(number).map(expected -> expected + ", got " + value)
                        : Optional.of("expected " + expected() + ", got " + value);
            } catch (NumberFormatException e) {
                return Optional.of("expected " + expected() + ", got '" + value + "'");
            }
        }

        /** The same, for a value of {@code proxy.args} (which may also be a list or a bare flag). */
        Optional<String> problem(ArgValue value) {
            return value instanceof ArgValue.Single single ? problem(single.value())
                    : Optional.of("expected " + expected());
        }

        private Optional<String> problem(double number) {
            return number >= minimum ? Optional.empty() : Optional.of("expected " + expected());
        }

        private String expected() {
            if (choices != null) {
                return String.join(" or ", choices);
            }
            return whole ? "a whole number of at least " + (long) minimum
                    : minimum > 0 ? "a number of seconds, at least " + minimum : "a number of seconds, 0 or more";
        }

        private double number(String value) {
            problem(value).ifPresent(problem -> {
                throw new IllegalArgumentException("--" + name + ": " + problem);
            });
            return Double.parseDouble(value);
        }
    }

    /** Every flag at its default. */
    public static ProxyTuning defaults() {
        return of(Map.of());
    }

    /**
     * The tuning {@code values} give (by flag, as written on a command line; each must have passed
     * {@link Flag#problem(String)}), with the defaults for the flags they leave out.
     */
    public static ProxyTuning of(Map<Flag, String> values) {
        Map<Flag, Double> numbers = new EnumMap<>(Flag.class);
        for (Flag flag : Flag.values()) {
            String value = values.containsKey(flag) ? values.get(flag) : flag.defaultValue;
            if (flag.choices == null) {
                numbers.put(flag, flag.number(value));
            }
        }
        return new ProxyTuning(numbers.get(Flag.MAX_RETRIES).intValue(), seconds(numbers.get(Flag.RETRY_DELAY)),
                seconds(numbers.get(Flag.BACKEND_TIMEOUT)), seconds(numbers.get(Flag.HEALTH_INTERVAL)),
                numbers.get(Flag.EVENT_LOOPS).intValue(), seconds(numbers.get(Flag.DRAIN_TIMEOUT)),
                dispatch(values.getOrDefault(Flag.ENCODER_DISPATCH_MODE, Flag.ENCODER_DISPATCH_MODE.defaultValue)));
    }

    private static EncoderDispatch dispatch(String value) {
        return EncoderDispatch.of(value).orElseThrow(() -> new IllegalArgumentException("--"
                + Flag.ENCODER_DISPATCH_MODE.flag() + ": " + Flag.ENCODER_DISPATCH_MODE.problem(value).orElse(value)));
    }

    /** The tuning flags a topology's {@code proxy.args} sets (validation has checked them). */
    public static Map<Flag, String> in(Map<String, ArgValue> args) {
        Map<Flag, String> values = new EnumMap<>(Flag.class);
        args.forEach((name, value) -> Flag.of(name).ifPresent(flag -> {
            if (value instanceof ArgValue.Single single) {
                values.put(flag, single.value());
            }
        }));
        return values;
    }

    /** A duration given in (possibly fractional) seconds, as the script's --retry-delay is. */
    public static Duration seconds(double value) {
        return Duration.ofNanos(Math.round(value * 1e9));
    }

    private static double seconds(Duration duration) {
        return duration.toNanos() / 1e9;
    }

    private static void check(Flag flag, double value) {
        flag.problem(value).ifPresent(problem -> {
            throw new IllegalArgumentException("--" + flag.flag() + ": " + problem + ", got " + value);
        });
    }
}
