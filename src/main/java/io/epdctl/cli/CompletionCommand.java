package io.epdctl.cli;

import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "completion",
        mixinStandardHelpOptions = true,
        description = {"Prints a shell completion script for epdctl's commands and options.",
            "bash: source <(epdctl completion bash), or save it in /etc/bash_completion.d/epdctl.",
            "zsh: source <(epdctl completion zsh) in ~/.zshrc (it loads bash completion through bashcompinit)."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:the script was printed", "2:invalid command line, or a shell other than bash and zsh"})
public final class CompletionCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SHELL", description = "bash or zsh.")
    String shell;

    @Override
    public Integer call() {
        String script = AutoComplete.bash("epdctl", spec.root().commandLine());
        // picocli's script is bash, and in zsh loads zsh's bash completion emulation (bashcompinit) itself.
        if (!shell.equals("bash") && !shell.equals("zsh")) {
            throw new UserException(ExitCodes.INVALID_INPUT, "completion: unknown shell '" + shell + "'; bash and zsh are supported");
        }
        spec.commandLine().getOut().print(script);
        spec.commandLine().getOut().flush();
        return ExitCodes.OK;
    }
}
