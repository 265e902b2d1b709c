package io.epdctl.lifecycle;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Masks the values of variables and flags whose names look like keys, tokens or passwords, wherever
 * epdctl shows or bundles what a node runs with ({@code describe}, {@code collect}). A name looks secret
 * when one of its words (split at {@code _ - .} and camel case) is or ends with KEY, TOKEN, SECRET,
 * PASSWORD, PASSWD, CREDENTIAL(S) or AUTHORIZATION: {@code HF_TOKEN}, {@code --api-key},
 * {@code apiKey}, {@code Authorization}, but not {@code --max-num-batched-tokens} nor {@code --ssl-keyfile}
 * (a count and a path); a word PASS counts too ({@code DB_PASS}), {@code PWD} does not (the working directory). Besides the patterns, every value known to be secret (from the env and argv of
 * the scripts) is replaced wherever it appears, so that a log line that prints it bare is masked too.
 */
public final class Secrets {
    public static final String MASK = "***";
    /** Shorter values are not replaced bare: "1" or "on" would be masked all over a log. */
    private static final int MIN_LITERAL = 4;
    private static final Set<String> SECRET_WORDS = Set.of("KEY", "KEYS", "TOKEN", "SECRET", "SECRETS", "PASSWORD",
            "PASSWD", "CREDENTIAL", "CREDENTIALS", "AUTHORIZATION");
    private static final Pattern WORDS = Pattern.compile("[_.\\-\\s]+|(?<=[a-z0-9])(?=[A-Z])");
    /** A value in text: single- or double-quoted (shell, JSON, Python), or a bare run. */
    private static final String VALUE = "('(?:[^'\\\\]|'\\\\''|\\\\.)*'|\"(?:[^\"\\\\]|\\\\.)*\"|[^\\s,;{}\\[\\]()'\"]+)";
    private static final String NAME = "([A-Za-z_][A-Za-z0-9_.\\-]*)";
    /** NAME=VALUE (shell, env dumps, Python kwargs) and --NAME=VALUE. */
    private static final Pattern ASSIGNMENT = Pattern.compile("(?<![A-Za-z0-9_.\\-])(-{0,2})" + NAME + "(=)" + VALUE);
    /** --NAME VALUE, as in argv and scripts (the value may follow a line continuation). */
    private static final Pattern FLAG = Pattern.compile("(?<![A-Za-z0-9_\\-])(--?)" + NAME + "((?:[ \\t]|\\\\\\n)+)"
            + "(?!-)" + VALUE);
    /** NAME: VALUE, 'NAME': VALUE, "NAME": VALUE (YAML, JSON, Python dicts, HTTP headers). */
    private static final Pattern MAPPING = Pattern.compile("(['\"]?)" + NAME + "(\\1\\s*:[ \\t]*)"
            + "((?:(?:Bearer|Basic|Token)[ \\t]+)?)" + VALUE);

    private final List<String> literals;

    private Secrets(List<String> literals) {
        this.literals = literals;
    }

    /** Masking by names only. */
    public static Secrets byName() {
        return new Secrets(List.of());
    }

    /** Masking by names, and of these values wherever they appear (longest first, so no part of one is left). */
    public static Secrets with(Collection<String> secretValues) {
        List<String> literals = new ArrayList<>(secretValues.stream().filter(value -> value.length() >= MIN_LITERAL)
                .distinct().toList());
        literals.sort(Comparator.comparingInt(String::length).reversed());
        return new Secrets(List.copyOf(literals));
    }

    /** Whether a variable, flag or key of this name holds a secret; leading dashes and quotes do not count. */
    public static boolean isSecretName(String name) {
        String bare = name.replaceFirst("^[-'\"]+", "").replaceFirst("['\"]+$", "");
        for (String word : WORDS.split(bare)) {
            String upper = word.toUpperCase(Locale.ROOT);
            if (upper.equals("PASS") || SECRET_WORDS.stream().anyMatch(upper::endsWith)) {
                return true;
            }
        }
        return false;
    }

    /** The values of secret-looking variables, for {@link #with}. */
    public static List<String> secretValues(Map<String, String> env, List<String> argv) {
        List<String> values = new ArrayList<>();
        env.forEach((name, value) -> {
            if (isSecretName(name)) {
                values.add(value);
            }
        });
        for (int i = 0; i < argv.size(); i++) {
            String word = argv.get(i);
            int equals = word.indexOf('=');
            if (word.startsWith("-") && equals > 0 && isSecretName(word.substring(0, equals))) {
                values.add(word.substring(equals + 1));
            } else if (word.startsWith("-") && isSecretName(word) && i + 1 < argv.size()) {
                values.add(argv.get(i + 1));
            }
        }
        return values;
    }

    /** The environment with secret values masked, in its order. */
    public Map<String, String> env(Map<String, String> env) {
        Map<String, String> masked = new LinkedHashMap<>();
        env.forEach((name, value) -> masked.put(name, isSecretName(name) ? MASK : text(value)));
        return masked;
    }

    /** An argv with the values of secret flags masked: {@code --api-key X}, {@code --api-key=X}. */
    public List<String> argv(List<String> argv) {
        List<String> masked = new ArrayList<>();
        for (int i = 0; i < argv.size(); i++) {
            String word = argv.get(i);
            int equals = word.indexOf('=');
            if (word.startsWith("-") && equals > 0 && isSecretName(word.substring(0, equals))) {
                masked.add(word.substring(0, equals + 1) + MASK);
            } else if (word.startsWith("-") && equals < 0 && isSecretName(word) && i + 1 < argv.size()
                    && !argv.get(i + 1).startsWith("-")) {
                masked.add(word);
                masked.add(MASK);
                i++;
            } else {
                masked.add(text(word));
            }
        }
        return masked;
    }

    /** Any text (a script, a log, a file): secret assignments, flags and keys masked, then known values. */
    public String text(String text) {
        String masked = replace(ASSIGNMENT, text, m -> m.group(1) + m.group(2) + m.group(3), 2);
        masked = replace(FLAG, masked, m -> m.group(1) + m.group(2) + m.group(3), 2);
        masked = replace(MAPPING, masked, m -> m.group(1) + m.group(2) + m.group(3) + m.group(4), 2);
        for (String literal : literals) {
            masked = masked.replace(literal, MASK);
        }
        return masked;
    }

    private interface Kept {
        String of(Matcher m);
    }

    /** Each match of {@code pattern} whose group {@code nameGroup} is a secret name: what it keeps, then the mask. */
    private static String replace(Pattern pattern, String text, Kept kept, int nameGroup) {
        Matcher m = pattern.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String replacement = isSecretName(m.group(nameGroup)) ? kept.of(m) + MASK : m.group();
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(out);
        return out.toString();
    }
}
