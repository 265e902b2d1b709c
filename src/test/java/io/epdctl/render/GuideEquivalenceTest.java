package io.epdctl.render;

import static io.epdctl.render.LaunchComparison.assertCreatesDirectories;
import static io.epdctl.render.LaunchComparison.assertSameLaunch;
import static io.epdctl.render.LaunchComparison.valueOf;
import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.render.LaunchComparison.Differences;
import io.epdctl.testing.CommandRecorder.Call;
import io.epdctl.testing.SystemTest;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guide's two cases rendered from topologies/ run the same commands as the guide's own scripts: both
 * are executed with recording stand-ins for vllm, python3, rm and mkdir, and what they ran is compared
 * ({@link LaunchComparison}). The only differences allowed are where the guide contradicts itself or leaves
 * a placeholder, each declared below with the guide's value (docs/topology.md, "Differences from the guide").
 */
@SystemTest
class GuideEquivalenceTest {
    /** The topologies name the model by the first of the guide's two placeholders. */
    private static final String MODEL = "/your/local/model/path/Qwen3-VL-8B-Instruct";
    private static final String OTHER_MODEL_PLACEHOLDER = "/home/p00929506/Qwen3-VL-8B-Instruct";
    private static final String PROXY_SCRIPT = "epd_load_balance_proxy_layerwise_server_example.py";

    @TempDir
    Path dir;

    private LaunchComparison comparison;

    @BeforeEach
    void stubs() throws IOException {
        comparison = new LaunchComparison(dir, "vllm", "python3", "rm", "mkdir");
    }

    @Test
    void oneEncoderOnePd() throws Exception {
        Map<String, List<Call>> theirs = comparison.runUpstream(guideScripts("1. run 1e1pd case", "2.run 1e1p1d case"));
        Map<String, List<Call>> ours = comparison.renderAndRun("topologies/1e1pd.yaml");
        assertThat(ours).containsOnlyKeys("e0.sh", "pd0.sh", "proxy.sh");

        assertSameNode(theirs.get("run_e.sh"), ours.get("e0.sh"), Differences.none());
        assertSameNode(theirs.get("run_pd.sh"), ours.get("pd0.sh"), Differences.none());
        assertSameLaunch("python3", theirs.get("run_proxy.sh"), ours.get("proxy.sh"), proxyDifferences()
                .flag("--pd-ports", List.of("33005"), List.of(valueOf(theirs.get("run_pd.sh"), "vllm", "--port")),
                        "the guide tells its proxy 33005 while its PD listens on 33003: we follow the PD"));
    }

    @Test
    void oneEncoderOnePrefillOneDecode() throws Exception {
        Map<String, List<Call>> theirs = comparison.runUpstream(guideScripts("2.run 1e1p1d case", null));
        Map<String, List<Call>> ours = comparison.renderAndRun("topologies/1e1p1d.yaml");
        assertThat(ours).containsOnlyKeys("e0.sh", "p0.sh", "d0.sh", "proxy.sh");

        assertSameNode(theirs.get("run_e.sh"), ours.get("e0.sh"), otherModelPlaceholder());
        assertSameNode(theirs.get("run_p.sh"), ours.get("p0.sh"), otherModelPlaceholder());
        assertSameNode(theirs.get("run_d.sh"), ours.get("d0.sh"), Differences.none());
        assertSameLaunch("python3", theirs.get("run_proxy.sh"), ours.get("proxy.sh"), proxyDifferences()
                .flag("--encoder-ports", List.of("23001", "23002"), List.of(valueOf(theirs.get("run_e.sh"), "vllm", "--port")),
                        "the guide gives its proxy two encoder ports for its one encoder (the proxy rejects that)"));
    }

    private static void assertSameNode(List<Call> guide, List<Call> rendered, Differences differences) {
        assertSameLaunch("vllm", guide, rendered, differences);
        // The guide's encoder wipes and re-creates the EC directory; ours creates it (`epdctl up` wipes it).
        assertCreatesDirectories(guide, rendered);
    }

    private static Differences otherModelPlaceholder() {
        return Differences.none().positional(1, OTHER_MODEL_PLACEHOLDER, MODEL,
                "the guide names the model by two placeholders; the topologies use the first");
    }

    private static Differences proxyDifferences() {
        return Differences.none()
                .positional(0, PROXY_SCRIPT, "/opt/vllm-ascend/examples/epd_disaggregated/" + PROXY_SCRIPT,
                        "the guide runs the script from where it is; the topologies name a location")
                .keepsProxyVariables();
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
}
