package io.epdctl.topology;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Which upstream proxy script {@code proxy.script} is: how it is told its backends, which route says it is ready,
 * which layouts it serves and which KV flow it drives. Facts of the scripts as their sources have them (see
 * docs/topology.md, "Upstream proxies").
 */
public enum ProxyKind {
    /** vLLM-Ascend's examples/epd_disaggregated/: the EPD guide's proxy; asks the decode node first (layerwise push). */
    EPD_LAYERWISE("epd-layerwise", "epd_load_balance_proxy_layerwise_server_example.py", "/healthcheck",
            Set.of(Layout.E_PD, Layout.E_P_D), KvFlow.LAYERWISE, List.of("fastapi", "httpx", "uvicorn", "PIL", "vllm.logger")),
    /** vLLM's (and vLLM-Ascend's) examples/.../disaggregated_encoder/: prefill first, the decode node pulls. */
    DISAGG_EPD("disagg-epd", "disagg_epd_proxy.py", "/health",
            Set.of(Layout.E_PD, Layout.E_P_D), KvFlow.PULL, List.of("fastapi", "aiohttp", "uvicorn", "uvloop")),
    /** vLLM-Ascend's examples/disaggregated_prefill_v1/: P+D without encoders, prefill first, the decode node pulls. */
    LOAD_BALANCE("load-balance", "load_balance_proxy_server_example.py", "/healthcheck",
            Set.of(Layout.P_D), KvFlow.PULL, List.of("fastapi", "httpx", "uvicorn"));

    /** The roles a deployment has, as far as a proxy cares. */
    public enum Layout {
        E_PD("E+PD"), E_P_D("E+P+D"), P_D("P+D without encoders"), OTHER("other");

        private final String label;

        Layout(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }

        public static Layout of(boolean encoders, boolean pd, boolean prefillDecode) {
            if (encoders && pd && !prefillDecode) {
                return E_PD;
            }
            if (encoders && prefillDecode && !pd) {
                return E_P_D;
            }
            if (!encoders && prefillDecode && !pd) {
                return P_D;
            }
            return OTHER;
        }
    }

    private final String yamlName;
    private final String fileName;
    private final String readiness;
    private final Set<Layout> layouts;
    private final KvFlow kvFlow;
    private final List<String> modules;

    ProxyKind(String yamlName, String fileName, String readiness, Set<Layout> layouts, KvFlow kvFlow, List<String> modules) {
        this.yamlName = yamlName;
        this.fileName = fileName;
        this.readiness = readiness;
        this.layouts = layouts;
        this.kvFlow = kvFlow;
        this.modules = modules;
    }

    public String yamlName() {
        return yamlName;
    }

    /** The script's file name upstream, by which {@code proxy.script} tells the kind when {@code proxy.kind} is not given. */
    public String fileName() {
        return fileName;
    }

    /** The GET route that answers 200 once it serves (disagg-epd's probes every backend; the others' do not). */
    public String readiness() {
        return readiness;
    }

    public boolean serves(Layout layout) {
        return layouts.contains(layout);
    }

    /**
     * The Python modules it imports beyond the standard library (disagg-epd runs uvicorn on uvloop; epd-layerwise
     * takes its logger from vLLM).
     */
    public List<String> modules() {
        return modules;
    }

    /** The KV flow its prefill/decode requests drive. */
    public KvFlow kvFlow() {
        return kvFlow;
    }

    /** The KV connector of that flow. */
    public String kvConnector() {
        return kvFlow == KvFlow.PULL ? KvTransfer.PULL_CONNECTOR : KvTransfer.LAYERWISE_CONNECTOR;
    }

    /** Whether it sends a request to a prefill node first and hands its answer to a decode node (pull mode). */
    public boolean prefillFirst() {
        return kvFlow == KvFlow.PULL;
    }

    /** {@code epd-layerwise (epd_load_balance_proxy_layerwise_server_example.py)} */
    public String describe() {
        return yamlName + " (" + fileName + ")";
    }

    public static Optional<ProxyKind> fromYaml(String name) {
        return Arrays.stream(values()).filter(kind -> kind.yamlName.equals(name)).findFirst();
    }

    /** The kind whose upstream file name the script path ends with. */
    public static Optional<ProxyKind> ofScript(String script) {
        String fileName = script.substring(script.lastIndexOf('/') + 1);
        return Arrays.stream(values()).filter(kind -> kind.fileName.equals(fileName)).findFirst();
    }

    public static List<String> yamlNames() {
        return Arrays.stream(values()).map(ProxyKind::yamlName).toList();
    }

    /** The kinds that serve {@code layout}, in declaration order. */
    public static List<ProxyKind> serving(Layout layout) {
        return Arrays.stream(values()).filter(kind -> kind.serves(layout)).toList();
    }

    /** The kinds that drive {@code flow}. */
    public static List<ProxyKind> driving(KvFlow flow) {
        return Arrays.stream(values()).filter(kind -> kind.kvFlow == flow).toList();
    }
}
