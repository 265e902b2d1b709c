package io.epdctl.lifecycle;

import io.epdctl.state.ProcessSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What changed between a recorded process's spec and the one the topology renders now, as short phrases:
 * {@code --max-num-seqs 128 -> 96}, {@code env X added}, {@code devices [1] -> [2]}, {@code host a -> b},
 * {@code command vllm serve /m -> /opt/vllm serve /m}, {@code setup lines changed}. Pure.
 */
final class SpecDiff {
    private SpecDiff() {
    }

    /** Every difference, in a fixed order (host, address, devices, directory, image, command, flags, env, setup); empty when none. */
    static List<String> between(ProcessSpec before, ProcessSpec after) {
        List<String> changes = new ArrayList<>();
        changed(changes, "host", before.host(), after.host());
        changed(changes, "address", before.address(), after.address());
        changed(changes, "devices", before.devices(), after.devices());
        changed(changes, "directory", before.directory(), after.directory());
        changed(changes, "image", imageOf(before), imageOf(after));
        Argv old = Argv.parse(before.argv());
        Argv now = Argv.parse(after.argv());
        if (!old.command().equals(now.command())) {
            changes.add("command " + String.join(" ", old.command()) + " -> " + String.join(" ", now.command()));
        }
        Set<String> flags = new LinkedHashSet<>(old.flags().keySet());
        flags.addAll(now.flags().keySet());
        for (String flag : flags) {
            List<String> was = old.flags().get(flag);
            List<String> is = now.flags().get(flag);
            if (was == null) {
                changes.add(flag + " added" + values(is));
            } else if (is == null) {
                changes.add(flag + " removed");
            } else if (!was.equals(is)) {
                changes.add(flag + " " + shown(was) + " -> " + shown(is));
            }
        }
        Set<String> names = new LinkedHashSet<>(before.envHashes().keySet());
        names.addAll(after.envHashes().keySet());
        for (String name : names) {
            String was = before.envHashes().get(name);
            String is = after.envHashes().get(name);
            if (was == null) {
                changes.add("env " + name + " added");
            } else if (is == null) {
                changes.add("env " + name + " removed");
            } else if (!was.equals(is)) {
                changes.add("env " + name + " changed");
            }
        }
        if (!before.setup().equals(after.setup())) {
            changes.add("setup lines changed");
        }
        return changes;
    }

    private static String imageOf(ProcessSpec spec) {
        return spec.image() == null ? "none (a host process)" : spec.image();
    }

    private static void changed(List<String> changes, String what, Object before, Object after) {
        if (!Objects.equals(before, after)) {
            changes.add(what + " " + before + " -> " + after);
        }
    }

    private static String values(List<String> values) {
        return values.isEmpty() ? "" : " (" + String.join(" ", values) + ")";
    }

    private static String shown(List<String> values) {
        return values.isEmpty() ? "(set)" : String.join(" ", values);
    }

    /** An argv as its command (the words before the first flag) and its flags, each with the words after it. */
    record Argv(List<String> command, Map<String, List<String>> flags) {
        static Argv parse(List<String> argv) {
            List<String> command = new ArrayList<>();
            Map<String, List<String>> flags = new LinkedHashMap<>();
            List<String> current = null;
            for (String word : argv) {
                if (word.startsWith("--")) {
                    int equals = word.indexOf('=');
                    String flag = equals > 0 ? word.substring(0, equals) : word;
                    current = new ArrayList<>();
                    if (equals > 0) {
                        current.add(word.substring(equals + 1));
                    }
                    flags.put(flag, current);
                } else if (current == null) {
                    command.add(word);
                } else {
                    current.add(word);
                }
            }
            return new Argv(command, flags);
        }
    }
}
