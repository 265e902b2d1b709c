package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Who holds a port of a process that was just stopped: the words of {@code down} and of a hand-over. */
class TeardownHolderTest {
    private static final ProcessRecord OLD = proxy("proxy", "h1", 100);
    private static final ProcessRecord NEXT = proxy("proxy-next", "h1", 200);

    private static ProcessRecord proxy(String name, String host, long group) {
        return new ProcessRecord(name, "proxy", host, "127.0.0.1", 8001, List.of(), List.of(), group, group == 0 ? "" : "1", null,
                "/run", "hash", null, null);
    }

    private static DeploymentState state(ProcessRecord... processes) {
        return new DeploymentState("demo", "/demo.yaml", "m", "/ec", Map.of(), List.of(processes), Instant.EPOCH);
    }

    @Test
    void theProxyThatTookOverIsNamedAndAnyOtherHolderIsNotOurs() {
        // The hand-over: the old proxy stopped, proxy-next (recorded, running on) holds the port.
        assertThat(Teardown.holder(OLD, Set.of(200L), state(OLD, NEXT), List.of(OLD))).isEqualTo("proxy-next, which took it over");
        // down of an interrupted hand-over stops both proxies at once.
        assertThat(Teardown.holder(OLD, Set.of(200L), state(OLD, NEXT), List.of(OLD, NEXT)))
                .isEqualTo("proxy-next, which is being stopped too");
        // A group no record of the deployment has: not ours, as before.
        assertThat(Teardown.holder(OLD, Set.of(300L), state(OLD, NEXT), List.of(OLD))).isEqualTo("another process, not one of ours");
        // The holder's pid could not be read (another user's process): not ours.
        assertThat(Teardown.holder(OLD, Set.of(), state(OLD, NEXT), List.of(OLD))).isEqualTo("another process, not one of ours");
        // The same group number on another host is another process.
        assertThat(Teardown.holder(OLD, Set.of(200L), state(OLD, proxy("proxy-next", "h2", 200)), List.of(OLD)))
                .isEqualTo("another process, not one of ours");
        // A recorded process not started yet holds nothing.
        assertThat(Teardown.holder(OLD, Set.of(0L), state(OLD, proxy("proxy-next", "h1", 0)), List.of(OLD)))
                .isEqualTo("another process, not one of ours");
    }
}
