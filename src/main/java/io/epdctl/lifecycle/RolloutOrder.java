package io.epdctl.lifecycle;

import io.epdctl.state.ProcessRecord;
import io.epdctl.state.ProcessSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * In which order a rolling {@code up} carries out the nodes' rows of an {@link UpPlan} behind a live proxy
 * ({@link #of}, a pure function): waves, each carried out as a whole (its old processes drained in the proxy,
 * removed and stopped; its new ones started, awaited, armed and added), one after the other.
 * <ul>
 * <li>New nodes come first, all at once: capacity is added before any is taken away.</li>
 * <li>Then the restarts, then the stops, at most {@code maxUnavailable} serving nodes of one role per wave, so a
 * role with more nodes than that keeps serving. A node that is not serving (dead) takes no one's place: it goes
 * with the first wave that can take it.</li>
 * <li>A node whose new ports or NPUs are held by a process still to be stopped waits for that process's wave.</li>
 * <li>Prefill and decode nodes whose KV settings change ({@link #KV_FLAGS}, or the connector) are restarted in one wave: the proxy
 * must never pair a prefiller and a decoder whose KV caches differ, and no order of single restarts avoids that
 * while both settings run. Their roles are then briefly without a backend.</li>
 * <li>When no wave can go on without a conflict (two nodes swap their NPUs), the rest go at once.</li>
 * <li>The processes of a node over several hosts (one group) go in one wave.</li>
 * </ul>
 * {@code rolesWithoutBackend} are the roles that serve before and have no serving node during some wave.
 */
public record RolloutOrder(List<Wave> waves, List<String> rolesWithoutBackend) {

    /**
     * Flags whose change makes a prefiller's KV cache unusable for a decoder of the other setting: the sizes of the
     * parallelism (how the cache is split over ranks), the cache's data type and its block size, and the model.
     */
    static final List<String> KV_FLAGS = List.of("--tensor-parallel-size", "--pipeline-parallel-size",
            "--kv-cache-dtype", "--block-size", "--dtype");

    /** The KV transfer config's key naming the connector: nodes of two connectors exchange no KV cache. */
    static final String KV_CONNECTOR = "kv_connector";

    private static final List<String> KV_SETTINGS = java.util.stream.Stream.concat(KV_FLAGS.stream(), java.util.stream.Stream.of(KV_CONNECTOR))
            .toList();
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    /** One wave: its rows, and why it is larger than {@code maxUnavailable} allows (null when it is not). */
    public record Wave(List<UpPlan.Row> rows, String why) {

        /** {@code restart d0, start d2} and the why. */
        public String describe() {
            return String.join(", ", rows.stream().map(row -> row.action().word() + " " + row.name()).toList())
                    + (why == null ? "" : " (at once: " + why + ")");
        }
    }

    private enum Kind { START, RESTART, STOP }

    /**
     * {@code rows} are the plan's rows for the nodes (the proxy's is not one of them); {@code serving} the names of
     * the recorded nodes that run now.
     */
    public static RolloutOrder of(List<UpPlan.Row> rows, Set<String> serving, int maxUnavailable) {
        if (maxUnavailable < 1) {
            throw new IllegalArgumentException("maxUnavailable must be at least 1, not " + maxUnavailable);
        }
        List<UpPlan.Row> pending = new ArrayList<>();
        // Which process holds each port and NPU: "old NAME" until its wave stops it, "new NAME" from its wave on.
        Map<String, String> held = new HashMap<>();
        for (UpPlan.Row row : rows) {
            if (row.previous() != null && row.action() != UpPlan.Action.START) {
                resources(row.previous()).forEach(resource -> held.put(resource, "old " + row.name()));
            }
            if (row.action() == UpPlan.Action.START || row.action() == UpPlan.Action.RESTART || row.action() == UpPlan.Action.STOP) {
                pending.add(row);
            }
        }
        List<UpPlan.Row> kvGroup = pending.stream().filter(RolloutOrder::changesKv).toList();
        String kvWhy = kvGroup.isEmpty() ? null : "their KV settings change (" + kvChanges(kvGroup.get(0)) + ")";
        if (kvGroup.size() == 1) {
            // One node alone cannot be mixed with itself; a pairing with a kept node of the other role is the file's choice.
            kvGroup = List.of();
        }

        List<Wave> waves = new ArrayList<>();
        while (!pending.isEmpty()) {
            List<UpPlan.Row> wave = new ArrayList<>();
            String why = null;
            for (Kind kind : Kind.values()) {
                Map<String, Integer> perRole = new HashMap<>();
                for (UpPlan.Row row : pending) {
                    if (kind(row) != kind || kvGroup.contains(row)) {
                        continue;
                    }
                    boolean takesAway = serving.contains(row.name()) && row.previous() != null;
                    if (takesAway && perRole.getOrDefault(row.role(), 0) >= maxUnavailable) {
                        continue;
                    }
                    if (blocked(row, wave, held)) {
                        continue;
                    }
                    wave.add(row);
                    if (takesAway) {
                        perRole.merge(row.role(), 1, Integer::sum);
                    }
                }
                if (!wave.isEmpty()) {
                    break;
                }
            }
            if (wave.isEmpty() && pending.stream().anyMatch(kvGroup::contains)) {
                wave.addAll(pending.stream().filter(kvGroup::contains).toList());
                why = kvWhy;
            }
            if (wave.isEmpty()) {
                wave.addAll(pending);
                why = "their ports or NPUs are held by one another";
            }
            // The processes of a node over several hosts go together (UpPlan.asGroups), whatever maxUnavailable says.
            Set<String> groups = new LinkedHashSet<>();
            wave.stream().map(UpPlan::group).filter(java.util.Objects::nonNull).forEach(groups::add);
            for (UpPlan.Row row : pending) {
                if (!wave.contains(row) && groups.contains(UpPlan.group(row))) {
                    wave.add(row);
                    why = why != null ? why : "the processes of " + String.join(", ", groups) + " go together";
                }
            }
            for (UpPlan.Row row : wave) {
                if (row.previous() != null && row.action() != UpPlan.Action.START) {
                    resources(row.previous()).forEach(resource -> held.remove(resource, "old " + row.name()));
                }
            }
            for (UpPlan.Row row : wave) {
                if (row.launch() != null) {
                    resources(row.launch().record()).forEach(resource -> held.put(resource, "new " + row.name()));
                }
            }
            pending.removeAll(wave);
            waves.add(new Wave(List.copyOf(wave), why));
        }
        return new RolloutOrder(List.copyOf(waves), rolesWithoutBackend(rows, serving, waves));
    }

    private static Kind kind(UpPlan.Row row) {
        return switch (row.action()) {
            case START -> row.previous() == null ? Kind.START : Kind.RESTART;
            case RESTART -> Kind.RESTART;
            default -> Kind.STOP;
        };
    }

    /** Whether a port or NPU the row's new process needs is held by a process that this wave does not stop. */
    private static boolean blocked(UpPlan.Row row, List<UpPlan.Row> wave, Map<String, String> held) {
        if (row.launch() == null) {
            return false;
        }
        Set<String> freed = new LinkedHashSet<>();
        freed.add("old " + row.name());
        wave.forEach(other -> freed.add("old " + other.name()));
        for (String resource : resources(row.launch().record())) {
            String holder = held.get(resource);
            if (holder != null && !freed.contains(holder)) {
                return true;
            }
        }
        return false;
    }

    private static List<String> resources(ProcessRecord process) {
        List<String> resources = new ArrayList<>();
        process.ports().forEach(port -> resources.add(process.host() + " port " + port));
        process.devices().forEach(npu -> resources.add(process.host() + " npu " + npu));
        return resources;
    }

    /** A prefill or decode node restarted with other KV settings than it runs with. */
    private static boolean changesKv(UpPlan.Row row) {
        return (row.role().equals("prefill") || row.role().equals("decode")) && row.action() == UpPlan.Action.RESTART
                && !kvChanges(row).isEmpty();
    }

    private static String kvChanges(UpPlan.Row row) {
        ProcessSpec before = row.previous().spec();
        ProcessSpec after = row.launch().record().spec();
        if (before == null || after == null) {
            return "";
        }
        Map<String, String> was = kvSettings(before.argv());
        Map<String, String> now = kvSettings(after.argv());
        List<String> changes = new ArrayList<>();
        for (String flag : KV_SETTINGS) {
            if (!java.util.Objects.equals(was.get(flag), now.get(flag))) {
                changes.add(flag + " " + (was.get(flag) == null ? "default" : was.get(flag)) + " -> "
                        + (now.get(flag) == null ? "default" : now.get(flag)));
            }
        }
        return String.join(", ", changes);
    }

    /** The KV flags' values, and (as {@value #KV_CONNECTOR}) the connector the KV transfer config names. */
    private static Map<String, String> kvSettings(List<String> argv) {
        Map<String, String> settings = new LinkedHashMap<>();
        for (int i = 0; i < argv.size(); i++) {
            String word = argv.get(i);
            for (String flag : KV_FLAGS) {
                if (word.equals(flag) && i + 1 < argv.size()) {
                    settings.put(flag, argv.get(i + 1));
                } else if (word.startsWith(flag + "=")) {
                    settings.put(flag, word.substring(flag.length() + 1));
                }
            }
            if (word.equals("--kv-transfer-config") && i + 1 < argv.size()) {
                try {
                    com.fasterxml.jackson.databind.JsonNode config = JSON.readTree(argv.get(i + 1));
                    if (config.hasNonNull(KV_CONNECTOR)) {
                        settings.put(KV_CONNECTOR, config.get(KV_CONNECTOR).asText());
                    }
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    settings.put(KV_CONNECTOR, argv.get(i + 1)); // not JSON: compared as it is
                }
            }
        }
        return settings;
    }

    /** Roles serving before that have no serving node while some wave runs. */
    private static List<String> rolesWithoutBackend(List<UpPlan.Row> rows, Set<String> serving, List<Wave> waves) {
        Map<String, Set<String>> up = new LinkedHashMap<>();
        for (UpPlan.Row row : rows) {
            // A temporary proxy of an interrupted hand-over, stopped now, is no backend of a role.
            if (row.previous() != null && serving.contains(row.name()) && !row.previous().isProxy()) {
                up.computeIfAbsent(row.role(), role -> new LinkedHashSet<>()).add(row.name());
            }
        }
        Set<String> without = new LinkedHashSet<>();
        Set<String> servedBefore = new LinkedHashSet<>(up.keySet());
        for (Wave wave : waves) {
            for (UpPlan.Row row : wave.rows()) {
                if (row.action() != UpPlan.Action.START || row.previous() != null) {
                    up.getOrDefault(row.role(), new LinkedHashSet<>()).remove(row.name());
                }
            }
            for (String role : servedBefore) {
                if (up.getOrDefault(role, Set.of()).isEmpty()) {
                    without.add(role);
                }
            }
            for (UpPlan.Row row : wave.rows()) {
                if (row.launch() != null) {
                    up.computeIfAbsent(row.role(), role -> new LinkedHashSet<>()).add(row.name());
                }
            }
        }
        return List.copyOf(without);
    }
}
