package io.epdctl.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.epdctl.topology.Host;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateStoreTest {
    @TempDir
    Path root;

    private static DeploymentState state() {
        Host host = new Host("local", "127.0.0.1", Host.TransportKind.LOCAL, null, null, null, null);
        ProcessRecord e0 = new ProcessRecord("e0", "encoder", "local", "127.0.0.1", 23001, List.of(0), List.of(),
                4242, "123456", Instant.parse("2026-11-24T10:00:00Z"), "/run/epdctl/demo", "abc");
        return new DeploymentState("demo", "/t.yaml", "qwenvl", "/data/ec", Map.of("local", host), List.of(e0),
                Instant.parse("2026-11-24T10:00:01Z"));
    }

    @Test
    void writesAndReadsBackTheSameState() throws Exception {
        StateStore store = new StateStore(root);

        store.write(state());

        assertThat(store.read("demo")).contains(state());
        assertThat(store.deployments()).containsExactly("demo");
        try (var files = Files.list(root.resolve("demo"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("state.json");
        }
        store.delete("demo");
        assertThat(store.read("demo")).isEmpty();
        assertThat(store.deployments()).isEmpty();
    }

    @Test
    void aHeldLockIsRefusedWithItsHolder() throws Exception {
        StateStore store = new StateStore(root);

        try (StateStore.DeploymentLock held = store.lock("demo")) {
            assertThatThrownBy(() -> store.lock("demo"))
                    .isInstanceOf(StateStore.LockedException.class)
                    .hasMessage("deployment demo is being changed by another epdctl (pid "
                            + ProcessHandle.current().pid() + "); wait for it to finish");
        }
        try (StateStore.DeploymentLock again = store.lock("demo")) {
            assertThat(again).isNotNull();
        }
    }
}
