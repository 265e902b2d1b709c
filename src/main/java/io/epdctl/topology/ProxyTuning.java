package io.epdctl.topology;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The flags of the built-in proxy that {@code proxy.args} may set (epdctl derives the others from the
 * topology), with what each takes, so that a wrong one is caught before anything starts.
 */
public enum ProxyTuning {
    MAX_RETRIES("max-retries", true, 1),
    RETRY_DELAY("retry-delay", false, 0),
    BACKEND_TIMEOUT("backend-timeout", false, 0),
    HEALTH_INTERVAL("health-interval", false, 0.001),
    EVENT_LOOPS("event-loops", true, 1);

    private final String flag;
    private final boolean whole;
    private final double minimum;

    ProxyTuning(String flag, boolean whole, double minimum) {
        this.flag = flag;
        this.whole = whole;
        this.minimum = minimum;
    }

    public String flag() {
        return flag;
    }

    public static Optional<ProxyTuning> of(String flag) {
        return Arrays.stream(values()).filter(tuning -> tuning.flag.equals(flag)).findFirst();
    }

    public static List<String> flags() {
        return Arrays.stream(values()).map(ProxyTuning::flag).toList();
    }

    /** This flag's value in {@code args}, if given (validation has checked it is a number). */
    public Optional<Double> in(Map<String, ArgValue> args) {
        return args.get(flag) instanceof ArgValue.Single single ? Optional.of(Double.parseDouble(single.value())) : Optional.empty();
    }

    /** What is wrong with {@code value} for this flag, if anything. */
    Optional<String> problem(ArgValue value) {
        String expected = whole ? "a whole number of at least " + (long) minimum
                : minimum > 0 ? "a number of seconds, at least " + minimum : "a number of seconds, 0 or more";
        if (!(value instanceof ArgValue.Single single)) {
            return Optional.of("expected " + expected);
        }
        try {
            double number = whole ? Integer.parseInt(single.value()) : Double.parseDouble(single.value());
            return number >= minimum && Double.isFinite(number) ? Optional.empty()
                    : Optional.of("expected " + expected + ", got " + single.value());
        } catch (NumberFormatException e) {
            return Optional.of("expected " + expected + ", got '" + single.value() + "'");
        }
    }
}
