package io.epdctl.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ParallelTest {

    @Test
    void resultsComeInTheItemsOrder() throws Exception {
        assertThat(Parallel.map(List.of(3, 1, 2), n -> n * 10)).containsExactly(Map.entry(3, 30), Map.entry(1, 10), Map.entry(2, 20));
        assertThat(Parallel.both(() -> "a", () -> 1)).isEqualTo(new Parallel.Both<>("a", 1));
    }

    @Test
    void aTaskThatIsInterruptedMakesTheCallThrowTheInterrupt() {
        InterruptedException interrupt = new InterruptedException("sleep interrupted");

        assertThatThrownBy(() -> Parallel.both(() -> "a", () -> {
            throw interrupt;
        })).isSameAs(interrupt);
    }

    @Test
    void aTaskThatFailsUnexpectedlyIsABug() {
        assertThatThrownBy(() -> Parallel.map(List.of("e0"), name -> {
            throw new ArithmeticException("/ by zero");
        })).isInstanceOf(IllegalStateException.class).hasMessage("task for e0 failed").hasCauseInstanceOf(ArithmeticException.class);
    }
}
