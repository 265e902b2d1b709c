package io.epdctl.cli;

import io.epdctl.topology.ProxyTuning;
import java.util.EnumMap;
import java.util.Map;
import picocli.CommandLine.IModelTransformer;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The tuning options of {@code epdctl proxy}, one per {@link ProxyTuning.Flag}, made from that one
 * definition (name, help, default) rather than written out again here.
 */
public final class ProxyTuningOptions implements IModelTransformer {
    @Override
    public CommandSpec transform(CommandSpec spec) {
        for (ProxyTuning.Flag flag : ProxyTuning.Flag.values()) {
            spec.addOption(OptionSpec.builder("--" + flag.flag()).type(String.class).paramLabel(flag.paramLabel())
                    .description(flag.help()).build());
        }
        return spec;
    }

    /**
     * The tuning flags given on the command line, as given; a {@link UserException} (exit 2) saying what
     * is wrong with the first bad one.
     */
    static Map<ProxyTuning.Flag, String> given(CommandSpec spec) {
        Map<ProxyTuning.Flag, String> given = new EnumMap<>(ProxyTuning.Flag.class);
        for (ProxyTuning.Flag flag : ProxyTuning.Flag.values()) {
            String value = spec.findOption("--" + flag.flag()).getValue();
            if (value != null) {
                flag.problem(value).ifPresent(problem -> {
                    throw new UserException(ExitCodes.INVALID_INPUT, "proxy: --" + flag.flag() + ": " + problem);
                });
                given.put(flag, value);
            }
        }
        return given;
    }
}
