package io.epdctl.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.topology.Role;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Which backend of a role gets the next attempt: healthy, not refused, not one that just closed if another is left, least loaded. */
class BackendPoolTest {
    /**
     * Backends a, b, c; {@code down}, {@code excluded} and {@code avoided} name some of them (letters), {@code busy}
     * gives each one's requests in flight.
     */
    @ParameterizedTest(name = "down {0}, busy {1}, excluded {2}, avoided {3}: {4}")
    @CsvSource({
        "'',  0 0 0, '',  '',  abc",
        "'',  2 1 3, '',  '',  b",
        "b,   2 1 3, '',  '',  a",
        "'',  2 1 3, b,   '',  a",
        "'',  2 1 3, '',  b,   a",
        "'',  2 1 3, '',  ab,  c",
        "'',  2 1 3, '',  abc, b",
        "c,   2 1 3, a,   b,   b",
        "ab,  0 0 0, c,   '',  none",
        "abc, 0 0 0, '',  '',  none",
    })
    void picks(String down, String busy, String excluded, String avoided, String expected) {
        BackendPool pool = new BackendPool(Role.ENCODER, List.of(new Endpoint("a", 1), new Endpoint("b", 2),
                new Endpoint("c", 3)), false);
        List<Backend> backends = pool.backends();
        int[] inFlight = Arrays.stream(busy.split(" ")).mapToInt(Integer::parseInt).toArray();
        for (int i = 0; i < backends.size(); i++) {
            Backend backend = backends.get(i);
            if (down.contains(backend.endpoint().host())) {
                backend.markDown("down in this case");
            } else {
                backend.markHealthy();
            }
            for (int request = 0; request < inFlight[i]; request++) {
                backend.started();
            }
        }

        // every call rotates the starting point: ties may go to any of them, a clear choice never changes
        Set<String> picked = java.util.stream.IntStream.range(0, 6)
                .mapToObj(ignored -> pool.pick(named(backends, excluded), named(backends, avoided), false))
                .map(backend -> backend == null ? "none" : backend.endpoint().host())
                .collect(Collectors.toSet());

        assertThat(picked).containsExactlyInAnyOrderElementsOf(expected.equals("none") ? Set.of("none")
                : expected.chars().mapToObj(letter -> String.valueOf((char) letter)).collect(Collectors.toSet()));
    }

    private static Set<Backend> named(List<Backend> backends, String letters) {
        return backends.stream().filter(backend -> letters.contains(backend.endpoint().host())).collect(Collectors.toSet());
    }

    /**
     * Backends a, b, c, all healthy and idle but those in {@code down}; {@code draining} ones take a request only
     * with {@code drainingToo} (a prefill of a request already admitted) and only when no other is left.
     */
    @ParameterizedTest(name = "down {0}, draining {1}, draining too {2}: {3}")
    @CsvSource({
        "'',  a,   false, bc",
        "'',  ab,  false, c",
        "'',  abc, false, none",
        "'',  abc, true,  abc",
        "'',  ab,  true,  c",
        "a,   ab,  true,  c",
        "c,   ab,  false, none",
        "c,   ab,  true,  ab",
        "bc,  ab,  true,  a",
    })
    void drainingBackendsTakeOnlyWhatNoOtherCan(String down, String draining, boolean drainingToo, String expected) {
        BackendPool pool = new BackendPool(Role.PREFILL, List.of(new Endpoint("a", 1), new Endpoint("b", 2),
                new Endpoint("c", 3)), true);
        for (Backend backend : pool.backends()) {
            if (down.contains(backend.endpoint().host())) {
                backend.markDown("down in this case");
            } else {
                backend.markHealthy();
            }
            if (draining.contains(backend.endpoint().host())) {
                backend.drain();
            }
        }

        Set<String> picked = java.util.stream.IntStream.range(0, 6)
                .mapToObj(ignored -> pool.pick(Set.of(), Set.of(), drainingToo))
                .map(backend -> backend == null ? "none" : backend.endpoint().host())
                .collect(Collectors.toSet());

        assertThat(picked).containsExactlyInAnyOrderElementsOf(expected.equals("none") ? Set.of("none")
                : expected.chars().mapToObj(letter -> String.valueOf((char) letter)).collect(Collectors.toSet()));
    }

    @org.junit.jupiter.api.Test
    void addsAndRemovesBackendsWhileRoutingAndKeepsItsRole() {
        BackendPool pool = new BackendPool(Role.ENCODER, List.of(), false);
        assertThat(pool.routed()).isFalse();

        Backend added = pool.add(new Endpoint("a", 1)).orElseThrow();
        assertThat(pool.add(new Endpoint("a", 1))).isEmpty();
        assertThat(pool.routed()).isTrue();
        assertThat(pool.anyUsable()).isFalse(); // not probed yet
        added.markHealthy();
        assertThat(pool.anyUsable()).isTrue();

        assertThat(pool.remove(new Endpoint("a", 1))).contains(added);
        assertThat(pool.remove(new Endpoint("a", 1))).isEmpty();
        assertThat(pool.backends()).isEmpty();
        // a role once routed stays: its requests get 503 now, rather than skipping the role
        assertThat(pool.routed()).isTrue();
        assertThat(pool.pick(Set.of(), Set.of(), true)).isNull();
    }
}
