package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.render.DeploymentRenderer;
import io.epdctl.render.LaunchSpec;
import io.epdctl.render.ScriptTemplates;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RenderedScriptTest {

    @Test
    void exportsAndTheExecArgvAreReadBackWithQuotesAndContinuations() {
        String script = String.join("\n",
                "#!/usr/bin/env bash",
                "# a comment with 'quotes' and export X=1",
                "set -e",
                "unset http_proxy",
                "export HF_TOKEN='it'\\''s a \"secret\"'",
                "export PATH_WITH_SPACE='/opt/my dir'; export EMPTY=''",
                "source /opt/set_env.sh && echo \"setup $HOME\"",
                "exec '/opt/vllm bin/vllm' serve 'Qwen/Qwen2.5-VL' \\",
                "    --port 23001 \\",
                "    --kv-transfer-config '{\"kv_port\":\"50001\"}'",
                "");

        RenderedScript read = RenderedScript.read(script);

        assertThat(read.interpreter()).isEqualTo("/usr/bin/env bash");
        assertThat(read.env()).containsExactly(Map.entry("HF_TOKEN", "it's a \"secret\""),
                Map.entry("PATH_WITH_SPACE", "/opt/my dir"), Map.entry("EMPTY", ""));
        assertThat(read.argv()).containsExactly("/opt/vllm bin/vllm", "serve", "Qwen/Qwen2.5-VL", "--port", "23001",
                "--kv-transfer-config", "{\"kv_port\":\"50001\"}");
        assertThat(read.beforeCommand()).endsWith("echo \"setup $HOME\"\n").doesNotContain("exec ");
        assertThat(read.setup()).containsExactly(List.of("set", "-e"), List.of("unset", "http_proxy"),
                List.of("source", "/opt/set_env.sh"), List.of("echo", "setup $HOME"));
    }

    @Test
    void aScriptWithoutExecHasNoCommand() {
        RenderedScript read = RenderedScript.read("echo hello\nexport A=1\n");

        assertThat(read.hasCommand()).isFalse();
        assertThat(read.interpreter()).isEqualTo("sh");
        assertThat(read.env()).containsExactly(Map.entry("A", "1"));
    }

    @Test
    void whatEpdctlRendersIsReadBackExactly() throws Exception {
        var loaded = io.epdctl.topology.TopologyLoader.load(java.nio.file.Path.of("topologies/1e1p1d.yaml"));
        var rendered = new DeploymentRenderer(loaded.topologyOrNull()).render();
        for (LaunchSpec spec : rendered.all()) {
            RenderedScript read = RenderedScript.read(ScriptTemplates.builtIn().script(rendered.deployment(), spec));
            assertThat(read.env()).as(spec.name()).isEqualTo(spec.env());
            assertThat(read.argv()).as(spec.name()).isEqualTo(spec.argv());
        }
    }
}
