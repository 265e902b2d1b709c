package io.epdctl.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.epdctl.render.DeploymentRenderer;
import io.epdctl.render.LaunchSpec;
import io.epdctl.render.RenderedDeployment;
import io.epdctl.render.ScriptTemplates;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "render",
        mixinStandardHelpOptions = true,
        description = {
            "Prints the shell script that starts each node and the proxy, as derived from the topology.",
            "Nothing is started. The topology is validated first, as by `epdctl validate`."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:rendered", "1:the scripts could not be written", "2:invalid command line, or the topology or a template has errors"})
public final class RenderCommand implements Callable<Integer> {
    enum Format { script, json }

    @Spec
    CommandSpec spec;

    @Mixin
    TopologyFileParameter topologyFile;

    @Option(names = {"-o", "--output-dir"}, paramLabel = "DIR",
            description = "Write one executable script per node, named after the node (e0.sh), plus proxy.sh, "
                    + "into DIR (created if missing) instead of printing them.")
    Path outputDir;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "script",
            description = "What to print: script (the start scripts) or json (per node and for the proxy: host, "
                    + "address, port, devices, env, setup, directories and argv). Default: ${DEFAULT-VALUE}.")
    Format format;

    @Mixin
    TemplatesOption templatesOption;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (outputDir != null && format == Format.json) {
            throw new UserException(ExitCodes.INVALID_INPUT, "--output-dir writes scripts; it does not go with --format json");
        }
        RenderedDeployment deployment = new DeploymentRenderer(topologyFile.load(err)).render();
        if (format == Format.json) {
            out.println(json(deployment));
            return ExitCodes.OK;
        }
        ScriptTemplates templates = templatesOption.templates();
        if (outputDir == null) {
            for (LaunchSpec launch : deployment.all()) {
                out.println("# ==> " + scriptName(launch) + " <==");
                out.println(templates.script(deployment.deployment(), launch));
            }
            return ExitCodes.OK;
        }
        List<String> written = new ArrayList<>();
        for (LaunchSpec launch : deployment.all()) {
            writeExecutable(outputDir.resolve(scriptName(launch)), templates.script(deployment.deployment(), launch));
            written.add(scriptName(launch));
        }
        err.println("wrote " + String.join(", ", written) + " to " + outputDir);
        return ExitCodes.OK;
    }

    static String scriptName(LaunchSpec launch) {
        return launch.name() + ".sh";
    }

    /** Through a temporary file, so a reader never sees half a script. */
    private static void writeExecutable(Path target, String content) {
        try {
            Files.createDirectories(target.getParent());
            Path temporary = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
            try {
                Files.writeString(temporary, content);
                Files.setPosixFilePermissions(temporary, PosixFilePermissions.fromString("rwxr-xr-x"));
                try {
                    Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(temporary);
            }
        } catch (IOException e) {
            throw new UserException(ExitCodes.FAILURE, "cannot write " + target + ": " + e.getMessage());
        }
    }

    private static String json(RenderedDeployment deployment) {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(deployment);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("records of strings and lists always convert to JSON", e);
        }
    }
}
