package io.epdctl.sim;

import io.epdctl.sim.transfer.EcConfig;
import io.epdctl.sim.transfer.KvConfig;
import java.util.List;
import java.util.Optional;

/** The {@code vllm serve} command line the simulator understood. */
record ServeArgs(
        String model,
        Optional<String> host,
        int port,
        List<String> servedModelNames,
        double gpuMemoryUtilization,
        int maxModelLen,
        int maxNumSeqs,
        Optional<Integer> maxNumBatchedTokens,
        boolean enforceEager,
        boolean enableRequestIdHeaders,
        boolean enablePrefixCaching,
        int tensorParallelSize,
        int dataParallelSize,
        Optional<EcConfig> ecTransfer,
        Optional<KvConfig> kvTransfer,
        Optional<String> allowedLocalMediaPath,
        boolean mmEncoderOnly,
        boolean headless,
        int dataParallelSizeLocal,
        int dataParallelStartRank,
        Optional<String> dataParallelAddress,
        int dataParallelRpcPort,
        Optional<Integer> dataParallelRank) {

    /** vLLM's default {@code --data-parallel-rpc-port}. */
    static final int DEFAULT_RPC_PORT = 29550;

    /** The API server of a data-parallel group whose other ranks run on other hosts (headless): it waits for them. */
    boolean leadsOtherHosts() {
        return !headless && dataParallelSizeLocal < dataParallelSize && dataParallelStartRank == 0;
    }

    /** One rank of external data parallelism (--data-parallel-rank) other than 0: it joins rank 0, then serves HTTP. */
    boolean joinsRankZero() {
        return dataParallelRank.isPresent() && dataParallelRank.get() > 0;
    }

    /** The first KV port this process binds and announces: kv_port + its first rank * tp. */
    int firstKvPort() {
        return kvTransfer.map(kv -> kv.kvPort() + dataParallelStartRank * tensorParallelSize).orElse(0);
    }

    /** The name clients use: the first served name, or the model path as vLLM does. */
    String servedModelName() {
        return servedModelNames.isEmpty() ? model : servedModelNames.get(0);
    }

    boolean serves(String name) {
        return servedModelNames.isEmpty() ? model.equals(name) : servedModelNames.contains(name);
    }
}
