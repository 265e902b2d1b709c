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
import io.epdctl.testing.SystemTest;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guide's two cases rendered from topologies/ run the same commands as the guide's own scripts: both
 * are executed with recording stand-ins for vllm, python3, rm and mkdir, and what they ran is compared.
 * The only differences allowed are where the guide contradicts itself, each named below.
 */
@SystemTest
class GuideEquivalenceTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The guide names the model by two different placeholders; the topologies use the first. */
    private static final Set<String> GUIDE_MODEL_PLACEHOLDERS =
            Set.of("/your/local/model/path/Qwen3-VL-8B-Instruct", "/home/p00929506/Qwen3-VL-8B-Instruct");
    /** Set in the environment of both runs: a correct script unsets them. */
    private static final Map<String, String> PROXY_VARIABLES = Map.of(
            "http_proxy", "http://proxy.invalid:3128", "https_proxy", "http://proxy.invalid:3128",
            "ftp_proxy", "http://proxy.invalid:3128");

    /** Variables bash itself maintains, which differ when a script ends with exec. */
    private static final Set<String> SHELL_BOOKKEEPING = Set.of("SHLVL", "_");

    @TempDir
    Path dir;

    private CommandRecorder recorder;

    @BeforeEach
    void stubs() throws IOException {
        recorder = new CommandRecorder(dir, "vllm", "python3", "rm", "mkdir");
    }

    @Test
    void oneEncoderOnePd() throws Exception {
        Map<String, String> guide = guideScripts("1. run 1e1pd case", "2.run 1e1p1d case");
        Map<String, List<Call>> ours = renderAndRun("topologies/1e1pd.yaml");
        Map<String, List<Call>> theirs = runGuide(guide);

        assertSameNode(theirs.get("run_e.sh"), ours.get("e0.sh"));
        assertSameNode(theirs.get("run_pd.sh"), ours.get("pd0.sh"));
        // The guide tells its proxy --pd-ports 33005 while its PD listens on 33003: we follow the PD.
        assertSameProxy(theirs.get("run_proxy.sh"), ours.get("proxy.sh"), Map.of(
                "--pd-ports", List.of(portOf(theirs.get("run_pd.sh")))));
    }

    @Test
    void oneEncoderOnePrefillOneDecode() throws Exception {
        Map<String, String> guide = guideScripts("2.run 1e1p1d case", null);
        Map<String, List<Call>> ours = renderAndRun("topologies/1e1p1d.yaml");
        Map<String, List<Call>> theirs = runGuide(guide);

        assertSameNode(theirs.get("run_e.sh"), ours.get("e0.sh"));
        assertSameNode(theirs.get("run_p.sh"), ours.get("p0.sh"));
        assertSameNode(theirs.get("run_d.sh"), ours.get("d0.sh"));
        // The guide gives its proxy two encoder ports for its one encoder (the proxy rejects that).
        assertSameProxy(theirs.get("run_proxy.sh"), ours.get("proxy.sh"), Map.of(
                "--encoder-ports", List.of(portOf(theirs.get("run_e.sh")))));
    }

    /** The scripts shown after "Content of the X script" in one case of the guide. */
    private static Map<String, String> guideScripts(String caseHeading, String nextHeading) throws IOException {
        String guide;
        try (InputStream in = GuideEquivalenceTest.class.getResourceAsStream("/guide/epd_disaggregated_guide.md")) {
            guide = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        int start = guide.indexOf(caseHeading);
        int end = nextHeading == null ? guide.length() : guide.indexOf(nextHeading);
        Matcher scripts = Pattern.compile("Content of the (\\S+) script\\s*```\\w*\\n(.*?)```", Pattern.DOTALL)
                .matcher(guide.substring(start, end));
        Map<String, String> found = new LinkedHashMap<>();
        while (scripts.find()) {
            found.put(scripts.group(1), scripts.group(2));
        }
        assertThat(found).as("scripts of '" + caseHeading + "'").isNotEmpty();
        return found;
    }

    private Map<String, List<Call>> runGuide(Map<String, String> scripts) throws Exception {
        Path guideDir = Files.createDirectories(dir.resolve("guide"));
        Map<String, List<Call>> calls = new LinkedHashMap<>();
        for (Map.Entry<String, String> script : scripts.entrySet()) {
            Path file = Files.writeString(guideDir.resolve(script.getKey()), script.getValue());
            calls.put(script.getKey(), recorder.run(file, PROXY_VARIABLES));
        }
        return calls;
    }

    private Map<String, List<Call>> renderAndRun(String topology) throws Exception {
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


    private static void assertSameNode(List<Call> guide, List<Call> rendered) {
        Call theirs = only(guide, "vllm");
        Call ours = only(rendered, "vllm");

        assertThat(withoutBookkeeping(ours.env())).as("environment").isEqualTo(withoutBookkeeping(theirs.env()));
        assertThat(ours.env()).as("proxy variables are unset").doesNotContainKeys("http_proxy", "https_proxy", "ftp_proxy");
        assertThat(ours.argv().subList(0, 2)).isEqualTo(List.of("serve", "/your/local/model/path/Qwen3-VL-8B-Instruct"));
        assertThat(theirs.argv().get(0)).isEqualTo("serve");
        assertThat(GUIDE_MODEL_PLACEHOLDERS).contains(theirs.argv().get(1));
        assertThat(flags(ours.argv().subList(2, ours.argv().size())))
                .isEqualTo(flags(theirs.argv().subList(2, theirs.argv().size())));

        // The guide's encoder wipes and re-creates the EC directory; ours creates it (`epdctl up` wipes it).
        List<String> guideDirectories = guide.stream()
                .filter(call -> call.command().equals("mkdir")).map(call -> call.argv().get(call.argv().size() - 1))
                .toList();
        List<String> ourDirectories = rendered.stream()
                .filter(call -> call.command().equals("mkdir")).map(call -> call.argv().get(call.argv().size() - 1))
                .toList();
        assertThat(ourDirectories).containsAll(guideDirectories);
    }

    private static void assertSameProxy(List<Call> guide, List<Call> rendered, Map<String, List<String>> corrections) {
        Call theirs = only(guide, "python3");
        Call ours = only(rendered, "python3");

        assertThat(Path.of(ours.argv().get(0)).getFileName()).isEqualTo(Path.of(theirs.argv().get(0)).getFileName());
        Map<String, Object> expected = flags(theirs.argv().subList(1, theirs.argv().size()));
        expected.putAll(corrections);
        assertThat(flags(ours.argv().subList(1, ours.argv().size()))).isEqualTo(expected);
    }

    private static Map<String, String> withoutBookkeeping(Map<String, String> env) {
        Map<String, String> copy = new LinkedHashMap<>(env);
        copy.keySet().removeAll(SHELL_BOOKKEEPING);
        return copy;
    }

    private static String portOf(List<Call> calls) {
        List<String> argv = only(calls, "vllm").argv();
        return argv.get(argv.indexOf("--port") + 1);
    }

    /**
     * argparse's view of a command line: each flag with the values after it; JSON values as trees, with
     * {@code kv_port} as the number vLLM makes of it (the guide writes the string "50001").
     */
    private static Map<String, Object> flags(List<String> argv) {
        Map<String, Object> flags = new LinkedHashMap<>();
        String flag = null;
        for (String word : argv) {
            if (word.startsWith("--")) {
                flag = word;
                assertThat(flags).as("flag given twice").doesNotContainKey(flag);
                flags.put(flag, new ArrayList<>());
            } else {
                assertThat(flag).as("a value before any flag: " + word).isNotNull();
                @SuppressWarnings("unchecked")
                List<Object> values = (List<Object>) flags.get(flag);
                values.add(flag.endsWith("-config") ? transferConfig(word) : word);
            }
        }
        return flags;
    }

    private static JsonNode transferConfig(String json) {
        try {
            JsonNode tree = JSON.readTree(json);
            if (tree.has("kv_port") && tree.get("kv_port").isTextual()) {
                ((ObjectNode) tree).set("kv_port", IntNode.valueOf(Integer.parseInt(tree.get("kv_port").asText())));
            }
            return tree;
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + json, e);
        }
    }
}
