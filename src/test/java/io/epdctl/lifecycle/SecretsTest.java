package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SecretsTest {

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
        "HF_TOKEN, true", "HUGGING_FACE_HUB_TOKEN, true", "VLLM_API_KEY, true", "--api-key, true", "api_key, true",
        "apiKey, true", "AWS_SECRET_ACCESS_KEY, true", "client-secret, true", "DB_PASSWORD, true", "MYSQL_PASSWD, true",
        "DB_PASS, true", "GOOGLE_APPLICATION_CREDENTIALS, true", "Authorization, true", "'api_key', true", "PRIVATEKEY, true",
        "--max-num-batched-tokens, false", "TOKENIZERS_PARALLELISM, false", "--tokenizer, false", "--ssl-keyfile, false",
        "PWD, false", "PATH, false", "ASCEND_RT_VISIBLE_DEVICES, false", "--kv-transfer-config, false", "BYPASS, false",
        "SSH_AUTH_SOCK, false"})
    void namesThatLookSecret(String name, boolean secret) {
        assertThat(Secrets.isSecretName(name)).isEqualTo(secret);
    }

    static Stream<Arguments> texts() {
        return Stream.of(
                arguments("export HF_TOKEN='s3cr3t'", "export HF_TOKEN=***"),
                arguments("export HF_TOKEN='it'\\''s'", "export HF_TOKEN=***"),
                arguments("HF_TOKEN=s3cr3t python serve.py", "HF_TOKEN=*** python serve.py"),
                arguments("    --api-key 'sk-1' \\", "    --api-key *** \\"),
                arguments("--api-key \\\n    'sk-1'", "--api-key \\\n    ***"),
                arguments("--api-key=sk-1 --port 8000", "--api-key=*** --port 8000"),
                arguments("env: {HF_TOKEN: s3cr3t, MARKER: x}", "env: {HF_TOKEN: ***, MARKER: x}"),
                arguments("args: {api-key: 'sk-1', max-num-seqs: 64}", "args: {api-key: ***, max-num-seqs: 64}"),
                arguments("{\"api_key\": \"sk-1\", \"port\": 1}", "{\"api_key\": ***, \"port\": 1}"),
                arguments("non-default args: {'api_key': 'sk-1', 'port': 1}", "non-default args: {'api_key': ***, 'port': 1}"),
                arguments("Namespace(api_key='sk-1', port=1)", "Namespace(api_key=***, port=1)"),
                arguments("curl -H 'Authorization: Bearer abc.def'", "curl -H 'Authorization: Bearer ***'"),
                arguments("--max-num-batched-tokens 114688", "--max-num-batched-tokens 114688"),
                arguments("export TOKENIZERS_PARALLELISM=false", "export TOKENIZERS_PARALLELISM=false"),
                arguments("INFO token count: 12", "INFO token count: 12"),
                arguments("PWD=/home/op", "PWD=/home/op"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("texts")
    void textIsMaskedByNames(String text, String masked) {
        assertThat(Secrets.byName().text(text)).isEqualTo(masked);
    }

    @Test
    void knownValuesAreMaskedWhereverTheyAppearButShortOnesAreNot() {
        Secrets secrets = Secrets.with(List.of("s3cr3t-value", "s3cr3t", "1"));

        assertThat(secrets.text("echoing s3cr3t-value and s3cr3t bare, port 1"))
                .isEqualTo("echoing *** and *** bare, port 1");
    }

    @Test
    void secretValuesComeFromEnvAndArgvAndAreMaskedThere() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("HF_TOKEN", "hf-abc");
        env.put("MARKER", "visible");
        List<String> argv = List.of("vllm", "serve", "m", "--api-key", "sk-1", "--client-secret=cs-2", "--port", "8000");

        assertThat(Secrets.secretValues(env, argv)).containsExactlyInAnyOrder("hf-abc", "sk-1", "cs-2");
        Secrets secrets = Secrets.byName();
        assertThat(secrets.env(env)).containsExactly(Map.entry("HF_TOKEN", "***"), Map.entry("MARKER", "visible"));
        assertThat(secrets.argv(argv)).containsExactly("vllm", "serve", "m", "--api-key", "***", "--client-secret=***",
                "--port", "8000");
    }
}
