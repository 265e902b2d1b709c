package io.epdctl.topology;

import java.util.List;

/**
 * The value of one {@code vllm serve} flag in an {@code args} map: {@code true} is a bare flag,
 * {@code false} leaves the flag out (also removing a default), a list gives the flag several values
 * ({@code --flag a b}, as vLLM's list flags take them), a mapping
 * becomes a JSON argument (as vLLM's dict-valued flags such as --additional-config expect).
 */
public sealed interface ArgValue {
    record Bare() implements ArgValue {
    }

    record Omitted() implements ArgValue {
    }

    record Single(String value) implements ArgValue {
    }

    record Listed(List<String> values) implements ArgValue {
    }
}
