package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ProxyHealthTest {
    static Stream<Arguments> answers() {
        return Stream.of(
                Arguments.of(503, "{\"status\":\"unhealthy\",\"roles\":{\"encoder\":{\"healthy\":1,\"total\":1},"
                        + "\"decode\":{\"healthy\":0,\"total\":1},\"prefill\":{\"healthy\":1,\"total\":1}},"
                        + "\"down\":[\"decode 127.0.0.1:33006: connection refused\"]}",
                        "no healthy decode (0 of 1); down: decode 127.0.0.1:33006: connection refused"),
                Arguments.of(503, "{\"status\":\"unhealthy\",\"roles\":{\"encoder\":{\"healthy\":0,\"total\":2},"
                        + "\"pd\":{\"healthy\":0,\"total\":2}},\"down\":[\"encoder a: x\",\"encoder b: x\",\"pd c: y\",\"pd d: y\"]}",
                        "no healthy encoder (0 of 2), pd (0 of 2); down: encoder a: x, encoder b: x, pd c: y and 1 more"),
                Arguments.of(503, "{\"status\":\"unhealthy\",\"roles\":{},\"down\":[]}", "unhealthy"),
                Arguments.of(500, "Internal Server Error", "/health answers 500: Internal Server Error"),
                Arguments.of(502, "", "/health answers 502"),
                Arguments.of(503, "x".repeat(300), "/health answers 503: " + "x".repeat(80) + "..."));
    }

    @ParameterizedTest
    @MethodSource("answers")
    void aProxyThatIsNotReadySaysWhyInAFewWords(int status, String body, String reason) {
        assertThat(ProxyHealth.reason(status, body)).isEqualTo(reason);
    }
}
