package io.epdctl.state;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * What a process was started with, in the parts {@code up} and {@code plan} compare to say exactly what
 * changed: its argv (values of secret-looking flags masked), its environment's names each with a hash of
 * its value (values may be secrets: none is kept), its setup lines (secret assignments masked), NPUs,
 * host, address and run directory; the image a container node runs (null for a host process). Null in records
 * written before state format 3.
 */
public record ProcessSpec(
        List<String> argv,
        Map<String, String> envHashes,
        List<String> setup,
        List<Integer> devices,
        String host,
        String address,
        String directory,
        @JsonInclude(JsonInclude.Include.NON_NULL) String image) {
}
