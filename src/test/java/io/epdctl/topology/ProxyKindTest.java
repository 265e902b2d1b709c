package io.epdctl.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.topology.ProxyKind.Layout;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The decisions of ProxyKind, as tables: the kind a script's path tells, the layout of a set of roles, who serves it. */
class ProxyKindTest {
    static Stream<Arguments> scripts() {
        return Stream.of(
                Arguments.of("/opt/vllm-ascend/examples/epd_disaggregated/epd_load_balance_proxy_layerwise_server_example.py",
                        Optional.of(ProxyKind.EPD_LAYERWISE)),
                Arguments.of("disagg_epd_proxy.py", Optional.of(ProxyKind.DISAGG_EPD)),
                Arguments.of("./examples/load_balance_proxy_server_example.py", Optional.of(ProxyKind.LOAD_BALANCE)),
                Arguments.of("/opt/load_balance_proxy_layerwise_server_example.py", Optional.empty()),
                Arguments.of("/opt/disagg_epd_proxy.py.orig", Optional.empty()),
                Arguments.of("/opt/disagg_epd_proxy.py/", Optional.empty()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scripts")
    void theFileNameTellsTheKind(String script, Optional<ProxyKind> kind) {
        assertThat(ProxyKind.ofScript(script)).isEqualTo(kind);
    }

    static Stream<Arguments> layouts() {
        return Stream.of(
                Arguments.of(true, true, false, Layout.E_PD, List.of(ProxyKind.EPD_LAYERWISE, ProxyKind.DISAGG_EPD)),
                Arguments.of(true, false, true, Layout.E_P_D, List.of(ProxyKind.EPD_LAYERWISE, ProxyKind.DISAGG_EPD)),
                Arguments.of(false, false, true, Layout.P_D, List.of(ProxyKind.LOAD_BALANCE)),
                Arguments.of(false, true, false, Layout.OTHER, List.of()),
                Arguments.of(true, true, true, Layout.OTHER, List.of()));
    }

    @ParameterizedTest(name = "encoders {0}, pd {1}, prefill/decode {2}: {3}")
    @MethodSource("layouts")
    void eachLayoutIsServedByItsKinds(boolean encoders, boolean pd, boolean prefillDecode, Layout layout,
            List<ProxyKind> serving) {
        assertThat(Layout.of(encoders, pd, prefillDecode)).isEqualTo(layout);
        assertThat(ProxyKind.serving(layout)).isEqualTo(serving);
    }

    @Test
    void thePrefillFirstKindsDriveThePullFlow() {
        assertThat(ProxyKind.driving(KvFlow.PULL)).containsExactly(ProxyKind.DISAGG_EPD, ProxyKind.LOAD_BALANCE)
                .allMatch(ProxyKind::prefillFirst)
                .allMatch(kind -> kind.kvConnector().equals(KvTransfer.PULL_CONNECTOR));
        assertThat(ProxyKind.driving(KvFlow.LAYERWISE)).containsExactly(ProxyKind.EPD_LAYERWISE)
                .allMatch(kind -> kind.kvConnector().equals(KvTransfer.LAYERWISE_CONNECTOR));
    }
}
