package io.epdctl.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The example topology of docs/topology.md is valid, so that the reference a user starts from is true. */
class ReadmeExampleTest {
    @Test
    void theReadmeTopologyIsValid(@TempDir Path dir) throws Exception {
        String readme = Files.readString(Path.of("docs/topology.md"));
        Matcher yaml = Pattern.compile("```yaml\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertThat(yaml.find(readme.indexOf("# The topology file"))).as("a yaml block under 'The topology file'").isTrue();

        Cli.Result result = Cli.run("validate", TopologyText.write(dir, yaml.group(1)).toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(result.err()).as(result.toString()).isEmpty();
    }
}
