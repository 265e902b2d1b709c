package io.epdctl.topology;

import static io.epdctl.topology.TopologyText.VALID;
import static io.epdctl.topology.TopologyText.locate;
import static io.epdctl.topology.TopologyText.replace;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.epdctl.testing.Cli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * YAML as operators write it (anchors, aliases, merge keys), hostile and malformed input, and the rules
 * about values that `render -o` and `up` need, through the real command line: message, line, column,
 * exit code; never a stack trace.
 */
class InputRulesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** A file that must be rejected with {@code message}, reported at {@code location} (LINE:COL) for {@code path}. */
    record Case(String rule, String yaml, String location, String path, String message) {
        @Override
        public String toString() {
            return rule;
        }
    }

    private static Case at(String rule, String yaml, String needle, int occurrence, String path, String message) {
        return new Case(rule, yaml, locate(yaml, needle, occurrence), path, message);
    }

    private static Case at(String rule, String yaml, String needle, String path, String message) {
        return at(rule, yaml, needle, 1, path, message);
    }

    /** The valid base, with e0's and p0's env written once and aliased. */
    private static final String ALIASED_ENV = replace(replace(VALID,
            "port: 23001}", "port: 23001, env: &env {A: [1]}}"),
            "port: 33003}", "port: 33003, env: *env}");

    /** Ten values, then lists of ten aliases of the one before: 11,111 values for each *d. */
    private static final String BOMB = VALID.replace("proxy:", """
            x-bomb:
              a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
              b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
              c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
              d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
              e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
            proxy:""");

    /** Lists inside lists, one level too deep: vllm.args.x's value is level 4 of the file. */
    private static final String DEEP = replace(VALID, "ec-transfer:",
            "vllm: {args: {x: " + "[".repeat(YamlTreeReader.MAX_DEPTH - 2) + "]".repeat(YamlTreeReader.MAX_DEPTH - 2)
                    + "}}\nec-transfer:");

    static Stream<Case> cases() {
        String longName = "n".repeat(300);
        return Stream.of(
                at("an error in a value reached through an alias: where it is written, and where the alias is",
                        ALIASED_ENV, "[1]", "nodes[1].env.A", "expected a value for the variable, got a list "
                                + "(reached through the alias at line " + locate(ALIASED_ENV, "*env").replace(":", ", column ") + ")"),
                at("the same error where the value is written", ALIASED_ENV, "[1]", "nodes[0].env.A",
                        "expected a value for the variable, got a list"),
                at("an alias without its anchor", replace(VALID, "model: /models/qwen", "model: *qwen"),
                        "*qwen", "model", "unknown alias *qwen (an alias refers to an anchor &qwen given before it)"),
                at("an alias inside the value it refers to", replace(VALID, "ec-transfer:", "x: &loop [*loop]\nec-transfer:"),
                        "*loop", "x[0]", "the alias *loop stands inside the value it refers to"),
                at("an alias bomb", BOMB, "*d", 8, "x-bomb.e[7]",
                        "the aliases expand to more than 100,000 values (aliases of aliases multiply)"),
                at("a merge key with a value that is no mapping",
                        replace(VALID, "{address: 127.0.0.1}", "{<<: 5, address: 127.0.0.1}"),
                        "5, address", "hosts.local.<<", "a merge key (<<) takes a mapping or a list of mappings, got a number"),
                at("an empty node list", replace(VALID,
                        VALID.substring(VALID.indexOf("nodes:\n"), VALID.indexOf("proxy:")), "nodes: []\n"),
                        "[]", "nodes", "expected a list of nodes, got an empty list"),
                at("an empty host mapping", replace(VALID,
                        VALID.substring(VALID.indexOf("hosts:\n"), VALID.indexOf("ec-transfer:")), "hosts: {}\n"),
                        "{}\n", "hosts", "expected a mapping of host names to hosts, got an empty mapping"),
                at("a port of 20 digits", replace(VALID, "port: 8001", "port: 99999999999999999999"),
                        "99999999999999999999", "proxy.port", "must be between 1 and 65535, got 99999999999999999999"),
                new Case("nesting too deep", DEEP,
                        locate(DEEP, "[").split(":")[0] + ":" + (Integer.parseInt(locate(DEEP, "[").split(":")[1])
                                + YamlTreeReader.MAX_DEPTH - 3),
                        "vllm.args.x" + "[0]".repeat(YamlTreeReader.MAX_DEPTH - 3), "nested deeper than 64 levels"),
                at("a NUL written as an escape", replace(VALID, "model: /models/qwen", "model: \"/models/q\\0wen\""),
                        "\"/models/q", "model", "contains a NUL character (\\0), which no command line or script can carry"),
                at("control characters are escaped in messages",
                        replace(VALID, "role: decode,", "role: \"dec\\e[31mode\\nx\","),
                        "\"dec", "nodes[2].role", "unknown role 'dec\\x1b[31mode\\nx'"),
                at("one flag under two spellings",
                        replace(VALID, "ec-transfer:", "vllm: {args: {max-num-seqs: 8, max_num_seqs: 16}}\nec-transfer:"),
                        "max_num_seqs", "vllm.args.max_num_seqs",
                        "'max_num_seqs' is the flag 'max-num-seqs' again (given at line 7); vLLM reads '_' as '-': keep one"),
                at("a flag and its negation",
                        replace(VALID, "port: 33006}", "port: 33006, args: {enable-prefix-caching: true,\n"
                                + "      no-enable-prefix-caching: true}}"),
                        "no-enable-prefix-caching", "nodes[2].args.no-enable-prefix-caching",
                        "both 'enable-prefix-caching' and 'no-enable-prefix-caching' are given"),
                at("a value beginning with '-' among several values of a flag",
                        replace(VALID, "ec-transfer:", "vllm: {args: {allowed-origins: [a, -b]}}\nec-transfer:"),
                        "-b]", "vllm.args.allowed-origins[1]",
                        "'-b' begins with '-': vLLM's argument parser would read it as an option"),
                at("a model path beginning with '-'", replace(VALID, "model: /models/qwen", "model: -qwen"),
                        "-qwen", "model", "'-qwen' begins with '-': vllm serve would read it as an option"),
                at("a host address that is no host name", replace(VALID, "192.0.2.10", "'npu a'"),
                        "'npu a'", "hosts.npu-a.address", "'npu a' is not a host name or IP address"),
                at("a host address with the user in it", replace(VALID, "192.0.2.10", "root@192.0.2.10"),
                        "root@", "hosts.npu-a.address", "is not a host name or IP address: give the user as user:"),
                at("a host address with a port", replace(VALID, "192.0.2.10", "'192.0.2.10:22'"),
                        "'192.0.2.10:22'", "hosts.npu-a.address", "give an SSH port as ssh-port:"),
                at("an IPv4 address out of range", replace(VALID, "192.0.2.10", "192.0.2.300"),
                        "192.0.2.300", "hosts.npu-a.address", "'192.0.2.300' is not an IPv4 address"),
                at("a node name too long for a file name", replace(VALID, "name: d0", "name: " + longName),
                        longName, "nodes[2].name", "is 300 characters long: names become file names, and may have at most 128"),
                at("P and D with an empty kv-transfer", replace(VALID, "kv-transfer: {kv-port: 50001}", "kv-transfer: ~"),
                        "~", "kv-transfer", "missing required key 'kv-transfer'"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void reportsTheBrokenRuleWhereItIs(Case c) {
        Path file = TopologyText.write(dir, c.yaml());

        Cli.Result result = Cli.run("validate", file.toString());

        assertRejected(result, file + ":" + c.location() + ": " + (c.path().isEmpty() ? "" : c.path() + ": "), c.message());
    }

    private static void assertRejected(Cli.Result result, String prefix, String message) {
        assertThat(result.exitCode()).as(result.toString()).isEqualTo(2);
        assertThat(result.err().lines()).as(result.toString())
                .anySatisfy(line -> assertThat(line).startsWith(prefix).contains(message));
        assertThat(result.err()).doesNotContain("Exception").doesNotContain("\tat ").doesNotContain("internal error")
                .doesNotContain("\u001b").doesNotContain("\0");
        assertThat(result.out()).isEmpty();
    }

    private Path writeBytes(byte[] bytes) throws IOException {
        return Files.write(dir.resolve("topology.yaml"), bytes);
    }

    @Test
    void pointsAtTheByteThatIsNotUtf8() throws IOException {
        byte[] text = VALID.getBytes(StandardCharsets.UTF_8);
        int at = VALID.indexOf("qwenvl") + 2;
        text[at] = (byte) 0xff;
        Path file = writeBytes(text);

        assertRejected(Cli.run("validate", file.toString()), file + ":" + locate(VALID, "qwenvl").split(":")[0] + ":"
                + (Integer.parseInt(locate(VALID, "qwenvl").split(":")[1]) + 2) + ": ", "is not UTF-8 text: the byte 0xFF");
    }

    @Test
    void pointsAtARawNulByte() throws IOException {
        Path file = writeBytes(replace(VALID, "/models/qwen", "/models/q\0wen").getBytes(StandardCharsets.UTF_8));

        assertRejected(Cli.run("validate", file.toString()), file + ":" + locate(VALID, "wen") + ": ",
                "invalid YAML: the character NULL (U+0000) is not allowed in a YAML file");
    }

    @Test
    void refusesAFileLargerThanTheBound() throws IOException {
        Path file = writeBytes(("# " + "x".repeat(TopologyLoader.MAX_BYTES) + "\n" + VALID).getBytes(StandardCharsets.UTF_8));

        assertRejected(Cli.run("validate", file.toString()), file + ":1:1: ",
                "is larger than 3,145,728 bytes (3 MiB), the most a topology file may have");
    }

    @Test
    void resolvesAnchorsAliasesAndMergeKeys() throws IOException {
        String yaml = """
                name: test
                model: &model /models/qwen
                served-model-name: qwenvl
                hosts:
                  local: {address: 127.0.0.1}
                vllm:
                  env: &env_common {HCCL_BUFFSIZE: 1024, TASK_QUEUE_ENABLE: 1}
                ec-transfer: {shared-storage-path: /data/ec_cache}
                nodes:
                  - &encoder {name: e0, role: encoder, host: local, devices: [0], port: 23001}
                  - {<<: *encoder, name: e1, devices: [1], port: 23002}
                  - name: pd0
                    role: pd
                    host: local
                    devices: [2]
                    port: 33003
                    env:
                      <<: *env_common
                      TASK_QUEUE_ENABLE: 2
                      MODEL: *model
                proxy: {host: local, port: 8001}
                """;
        Path file = TopologyText.write(dir, yaml);

        Cli.Result result = Cli.run("render", "--format", "json", file.toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        JsonNode nodes = JSON.readTree(result.out()).get("nodes");
        assertThat(nodes).hasSize(3);
        assertThat(nodes.get(1).get("name").asText()).isEqualTo("e1");
        assertThat(nodes.get(1).get("argv").toString()).contains("\"--port\",\"23002\"").contains("--enforce-eager");
        assertThat(nodes.get(1).get("env").toString()).contains("\"ASCEND_RT_VISIBLE_DEVICES\":\"1\"");
        JsonNode env = nodes.get(2).get("env");
        assertThat(env.get("HCCL_BUFFSIZE").asText()).isEqualTo("1024");
        assertThat(env.get("TASK_QUEUE_ENABLE").asText()).as("the mapping's own key wins").isEqualTo("2");
        assertThat(env.get("MODEL").asText()).isEqualTo("/models/qwen");
    }

    @Test
    void anEmptyOptionalSectionIsNoSection() {
        Path file = TopologyText.write(dir, replace(VALID, "ec-transfer:", "vllm: ~\nec-transfer:")
                .replace("port: 33006}", "port: 33006, env: ~, args: ~}"));

        Cli.Result result = Cli.run("validate", file.toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
    }

    @Test
    void acceptsHostNamesAndIpAddressesOfEveryForm() {
        for (String address : List.of("npu-a.example.com", "npu_a", "10.0.0.1", "'fe80::1'", "'[2001:db8::1]'",
                "'::ffff:192.0.2.1'", "'fe80::1%eth0'", "NPU-A")) {
            Path file = TopologyText.write(dir, replace(VALID, "192.0.2.10", address));
            Cli.Result result = Cli.run("validate", file.toString());
            assertThat(result.exitCode()).as(address + "\n" + result).isZero();
        }
    }

    @Test
    void rendersAValueThatBeginsWithADashAsFlagEqualsValue() throws IOException {
        Path file = TopologyText.write(dir, replace(replace(VALID, "served-model-name: qwenvl", "served-model-name: -qwen"),
                "ec-transfer:", "vllm: {args: {max-model-len: -1, allowed-origins: [-x], override-x: '-y z'}}\nec-transfer:"));

        Cli.Result result = Cli.run("render", "--format", "json", file.toString());

        assertThat(result.exitCode()).as(result.toString()).isZero();
        List<String> argv = new ArrayList<>();
        JSON.readTree(result.out()).get("nodes").get(0).get("argv").forEach(arg -> argv.add(arg.asText()));
        assertThat(argv).contains("--served-model-name=-qwen", "--max-model-len=-1", "--allowed-origins=-x",
                "--override-x=-y z").doesNotContain("-qwen", "-1", "-x");
    }

    @Test
    void summarisesRepeatedProblems() {
        StringBuilder nodes = new StringBuilder();
        for (int i = 0; i < 20; i++) {
            nodes.append("  - {name: e").append(i).append(", role: encoder, host: local, devices: [").append(i)
                    .append("], port: 23001, usr: x}\n");
        }
        String yaml = replace(VALID, "  - {name: e0, role: encoder, host: local, devices: [0], port: 23001}\n", nodes.toString())
                .replace("devices: [1], port: 33003", "devices: [21], port: 33003")
                .replace("devices: [2], port: 33006", "devices: [22], port: 33006");
        Path file = TopologyText.write(dir, yaml);

        Cli.Result result = Cli.run("validate", file.toString());

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err().lines().filter(line -> line.contains("unknown key 'usr'"))).hasSize(Problems.SHOWN_PER_KIND);
        assertThat(result.err()).contains(file + ":" + locate(yaml, "usr", 6) + ": nodes[*].usr: and 15 more like it at "
                + "nodes[*].usr (up to line 29)");
        assertThat(result.err()).contains("epdctl: " + file + ": 20 errors; nothing was done");
    }
}
