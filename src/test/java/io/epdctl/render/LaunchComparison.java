package io.epdctl.render;

import static io.epdctl.testing.CommandRecorder.only;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.epdctl.testing.Cli;
import io.epdctl.testing.CommandRecorder;
import io.epdctl.testing.CommandRecorder.Call;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * The shared harness of the equivalence tests: upstream's command lines and epdctl's rendered scripts are run
 * with the same recording stand-ins and the same environment, and what each process executed is compared as
 * argparse and the process see it (positional words, each flag with its values, JSON as trees, the
 * environment). Every allowed difference is declared with the value upstream has, the value epdctl renders
 * and why; a declared difference whose upstream value is not there fails, so none can hide another.
 */
final class LaunchComparison {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Set in the environment of every run: a correct script unsets them. */
    static final Map<String, String> PROXY_VARIABLES = Map.of(
            "http_proxy", "http://proxy.invalid:3128", "https_proxy", "http://proxy.invalid:3128",
            "ftp_proxy", "http://proxy.invalid:3128");
    /** Variables bash itself maintains, which differ when a script ends with exec. */
    private static final Set<String> SHELL_BOOKKEEPING = Set.of("SHLVL", "_");

    private final Path dir;
    private final CommandRecorder recorder;

    /** {@code commands}: the programs to stand in for (vllm, python3, rm, mkdir, ...). */
    LaunchComparison(Path dir, String... commands) throws IOException {
        this.dir = dir;
        this.recorder = new CommandRecorder(dir, commands);
    }

    /**
     * A stand-in for {@code ip} that shows each of {@code addresses} on {@code iface}, as {@code ip -o addr show}
     * prints them: every host's scripts run on this machine, and a node on a routable address looks up the
     * interface that carries its host's address as it starts.
     */
    void interfaces(String iface, List<String> addresses) throws IOException {
        StringBuilder script = new StringBuilder("#!/bin/sh\n");
        for (int i = 0; i < addresses.size(); i++) {
            script.append("echo '").append(i + 2).append(": ").append(iface).append("    inet ").append(addresses.get(i))
                    .append("/24 brd 0.0.0.0 scope global ").append(iface).append("'\n");
        }
        recorder.standIn("ip", script.toString());
    }

    /** What one process executed, normalised as argparse reads it. */
    record Launch(String command, List<String> positional, Map<String, List<Object>> flags, Map<String, String> env) {
    }

    /** Renders {@code topology} with epdctl and runs every script; the calls of each, by script file name. */
    Map<String, List<Call>> renderAndRun(String topology) throws Exception {
        Path scripts = dir.resolve("rendered");
        Cli.Result render = Cli.run("render", "-o", scripts.toString(), topology);
        assertThat(render.exitCode()).as(render.toString()).isZero();
        Map<String, List<Call>> calls = new LinkedHashMap<>();
        try (var files = Files.list(scripts)) {
            for (Path script : files.sorted().toList()) {
                assertThat(Files.isExecutable(script)).as(script + " is executable").isTrue();
                calls.put(script.getFileName().toString(), recorder.run(script, PROXY_VARIABLES));
            }
        }
        return calls;
    }

    /** Runs upstream's scripts, given by file name and text; their calls by the same names. */
    Map<String, List<Call>> runUpstream(Map<String, String> scripts) throws Exception {
        Path upstream = Files.createDirectories(dir.resolve("upstream"));
        Map<String, List<Call>> calls = new LinkedHashMap<>();
        for (Map.Entry<String, String> script : scripts.entrySet()) {
            Path file = Files.writeString(upstream.resolve(script.getKey()), script.getValue());
            calls.put(script.getKey(), recorder.run(file, PROXY_VARIABLES));
        }
        return calls;
    }

    /** Runs the transcribed upstream command lines under {@code resource} (one .sh per process, on the classpath). */
    Map<String, List<Call>> runTranscription(String resource, String... processes) throws Exception {
        Map<String, String> scripts = new LinkedHashMap<>();
        for (String process : processes) {
            String name = resource + "/" + process;
            try (var in = LaunchComparison.class.getResourceAsStream(name)) {
                assertThat(in).as("test data " + name).isNotNull();
                scripts.put(process, new String(in.readAllBytes(), StandardCharsets.UTF_8));
            }
        }
        return runUpstream(scripts);
    }

    /**
     * The one call of {@code command} in each run is the same launch, up to {@code differences}. Ours has no
     * proxy variable left, whatever upstream does.
     */
    static void assertSameLaunch(String command, List<Call> upstream, List<Call> rendered, Differences differences) {
        Launch theirs = launch(only(upstream, command));
        Launch ours = launch(only(rendered, command));
        Launch expected = differences.applyTo(theirs);
        assertThat(ours.env()).as("proxy variables are unset").doesNotContainKeys(PROXY_VARIABLES.keySet().toArray(String[]::new));
        assertThat(ours.command()).isEqualTo(expected.command());
        assertThat(ours.positional()).as("positional words").isEqualTo(expected.positional());
        assertThat(new TreeMap<>(ours.flags())).as("flags").isEqualTo(new TreeMap<>(expected.flags()));
        assertThat(new TreeMap<>(ours.env())).as("environment").isEqualTo(new TreeMap<>(expected.env()));
    }

    /** Every directory upstream creates ({@code mkdir}) is created by ours too. */
    static void assertCreatesDirectories(List<Call> upstream, List<Call> rendered) {
        assertThat(createdDirectories(rendered)).containsAll(createdDirectories(upstream));
    }

    private static List<String> createdDirectories(List<Call> calls) {
        return calls.stream().filter(call -> call.command().equals("mkdir"))
                .map(call -> call.argv().get(call.argv().size() - 1)).toList();
    }

    /** The value of {@code flag} in the one call of {@code command}. */
    static String valueOf(List<Call> calls, String command, String flag) {
        List<String> argv = only(calls, command).argv();
        int at = argv.indexOf(flag);
        assertThat(at).as(flag + " in " + argv).isNotNegative();
        return argv.get(at + 1);
    }

    /**
     * argparse's view of a call: the words before the first flag, each flag with the values after it
     * ({@code --flag=value} split), JSON values of {@code *-config} flags as trees with {@code kv_port} the
     * number vLLM makes of a numeric string. For {@code vllm serve}, {@code --model M} is the model given as
     * the positional word, and {@code --a_b} is {@code --a-b}, as vLLM's argument parser reads them.
     */
    static Launch launch(Call call) {
        List<String> positional = new ArrayList<>();
        Map<String, List<Object>> flags = new LinkedHashMap<>();
        String flag = null;
        for (String word : call.argv()) {
            if (word.startsWith("--")) {
                int eq = word.indexOf('=');
                flag = eq < 0 ? word : word.substring(0, eq);
                if (call.command().equals("vllm")) {
                    flag = "--" + flag.substring(2).replace('_', '-');
                }
                assertThat(flags).as("flag given twice in " + call.argv()).doesNotContainKey(flag);
                flags.put(flag, new ArrayList<>());
                if (eq >= 0) {
                    flags.get(flag).add(value(flag, word.substring(eq + 1)));
                }
            } else if (flag == null) {
                positional.add(word);
            } else {
                flags.get(flag).add(value(flag, word));
            }
        }
        if (call.command().equals("vllm") && positional.equals(List.of("serve")) && flags.containsKey("--model")) {
            List<Object> model = flags.remove("--model");
            assertThat(model).as("--model takes one value").hasSize(1);
            positional.add((String) model.get(0));
        }
        Map<String, String> env = new LinkedHashMap<>(call.env());
        env.keySet().removeAll(SHELL_BOOKKEEPING);
        return new Launch(call.command(), positional, flags, env);
    }

    private static Object value(String flag, String word) {
        return flag.endsWith("-config") ? transferConfig(word) : word;
    }

    /** A flag's JSON value as a tree; a value that is no JSON stays the text it is, so the comparison shows it. */
    private static Object transferConfig(String json) {
        JsonNode tree;
        try {
            tree = JSON.readTree(json);
        } catch (IOException e) {
            return new NotJson(json);
        }
        if (tree.has("kv_port") && tree.get("kv_port").isTextual()) {
            ((ObjectNode) tree).set("kv_port", IntNode.valueOf(Integer.parseInt(tree.get("kv_port").asText())));
        }
        return tree;
    }

    /** A {@code *-config} value that does not parse: vLLM refuses it. */
    record NotJson(String text) {
    }

    /**
     * The allowed differences of one process, each with upstream's value (null: upstream has none), epdctl's
     * (null: epdctl has none) and why. Applying them checks that upstream has each stated value.
     */
    static final class Differences {
        private final List<Difference> list = new ArrayList<>();

        private record Difference(Kind kind, String key, Object upstream, Object ours, String why) {
        }

        private enum Kind { POSITIONAL, FLAG, ENV, JSON_KEY, UNCLOSED_JSON }

        static Differences none() {
            return new Differences();
        }

        /** Positional word {@code index} (0 is {@code serve} for vllm). */
        Differences positional(int index, String upstream, String ours, String why) {
            list.add(new Difference(Kind.POSITIONAL, Integer.toString(index), upstream, ours, why));
            return this;
        }

        /** A flag's values; each value as its comparison holds it (a String, or a JsonNode for *-config). */
        Differences flag(String flag, List<?> upstream, List<?> ours, String why) {
            list.add(new Difference(Kind.FLAG, flag, upstream, ours, why));
            return this;
        }

        /**
         * A top-level key of the JSON value of {@code flag} (the flag's one value); values as Jackson trees or
         * plain Java values ({@code "1"}, {@code 14579}).
         */
        Differences jsonKey(String flag, String key, Object upstream, Object ours, String why) {
            list.add(new Difference(Kind.JSON_KEY, flag + " " + key, tree(upstream), tree(ours), why));
            return this;
        }

        /** The JSON value of {@code flag} lacks its closing brace (vLLM refuses it); epdctl's is that JSON, closed. */
        Differences unclosedJson(String flag, String why) {
            list.add(new Difference(Kind.UNCLOSED_JSON, flag, null, null, why));
            return this;
        }

        private static JsonNode tree(Object value) {
            return value == null ? null : JSON.valueToTree(value);
        }

        Differences env(String name, String upstream, String ours, String why) {
            list.add(new Difference(Kind.ENV, name, upstream, ours, why));
            return this;
        }

        /** Each of {@code upstream}'s variables, with its value there, is not in epdctl's environment. */
        Differences envLeftOut(Map<String, String> upstream, String why) {
            new TreeMap<>(upstream).forEach((name, value) -> env(name, value, null, why));
            return this;
        }

        /** Upstream leaves the proxy variables of the calling shell set; epdctl's scripts unset them. */
        Differences keepsProxyVariables() {
            PROXY_VARIABLES.forEach((name, value) ->
                    env(name, value, null, "upstream leaves the caller's proxy variable set; it breaks the calls between the processes"));
            return this;
        }

        Launch applyTo(Launch upstream) {
            List<String> positional = new ArrayList<>(upstream.positional());
            Map<String, List<Object>> flags = new LinkedHashMap<>(upstream.flags());
            Map<String, String> env = new LinkedHashMap<>(upstream.env());
            for (Difference d : list) {
                String what = d.kind() + " " + d.key() + " (" + d.why() + ")";
                switch (d.kind()) {
                    case POSITIONAL -> {
                        int index = Integer.parseInt(d.key());
                        assertThat(positional.get(index)).as("upstream's " + what).isEqualTo(d.upstream());
                        positional.set(index, (String) d.ours());
                    }
                    case FLAG -> {
                        assertThat(flags.get(d.key())).as("upstream's " + what).isEqualTo(d.upstream());
                        replace(flags, d.key(), d.ours() == null ? null : new ArrayList<>((List<?>) d.ours()));
                    }
                    case JSON_KEY -> {
                        String flag = d.key().substring(0, d.key().indexOf(' '));
                        String key = d.key().substring(flag.length() + 1);
                        List<Object> values = flags.get(flag);
                        assertThat(values).as("upstream's " + what + ": one JSON value").hasSize(1)
                                .first().isInstanceOf(ObjectNode.class);
                        ObjectNode json = ((ObjectNode) values.get(0)).deepCopy();
                        assertThat(json.get(key)).as("upstream's " + what).isEqualTo(d.upstream());
                        if (d.ours() == null) {
                            json.remove(key);
                        } else {
                            json.set(key, (JsonNode) d.ours());
                        }
                        flags.put(flag, List.of(json));
                    }
                    case UNCLOSED_JSON -> {
                        List<Object> values = flags.get(d.key());
                        assertThat(values).as("upstream's " + what + ": one value that is no JSON").hasSize(1)
                                .first().isInstanceOf(NotJson.class);
                        Object closed = transferConfig(((NotJson) values.get(0)).text().strip() + "}");
                        assertThat(closed).as("upstream's " + what + " with its closing brace").isInstanceOf(JsonNode.class);
                        flags.put(d.key(), List.of(closed));
                    }
                    case ENV -> {
                        assertThat(env.get(d.key())).as("upstream's " + what).isEqualTo(d.upstream());
                        replace(env, d.key(), (String) d.ours());
                    }
                }
            }
            return new Launch(upstream.command(), positional, flags, env);
        }

        @SuppressWarnings("unchecked")
        private static <V> void replace(Map<String, V> map, String key, Object value) {
            if (value == null) {
                map.remove(key);
            } else {
                map.put(key, (V) Objects.requireNonNull(value));
            }
        }
    }
}
