package io.epdctl.cli;

import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(
        name = "epdctl",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Deploys vLLM-Ascend encode/prefill/decode (EPD) disaggregated serving from one topology file.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:success",
            "1:the deployment, a host or a node failed, or the state directory cannot be used",
            "2:invalid command line, topology file or template; nothing was touched"
        })
public final class EpdctlCommand implements Runnable {
    /** The subcommands, in the order help lists them; {@link Main} adds them (all, or the one a command line names). */
    static final List<Class<?>> SUBCOMMANDS = List.of(ValidateCommand.class, RenderCommand.class, PlanCommand.class,
            UpCommand.class, RestartCommand.class, StatusCommand.class, DownCommand.class, LogsCommand.class,
            CheckCommand.class, ProxyCommand.class, LsCommand.class, DescribeCommand.class, CollectCommand.class,
            CompletionCommand.class, HelpCommand.class);

    @Spec
    CommandSpec spec;

    private final Terminal terminal;

    EpdctlCommand(Terminal terminal) {
        this.terminal = terminal;
    }

    /** Whether the streams of the command {@code spec} belongs to are terminals (see {@link Terminal}). */
    static Terminal terminal(CommandSpec spec) {
        return spec.root().userObject() instanceof EpdctlCommand root ? root.terminal : Terminal.PLAIN;
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "a command is required");
    }
}
