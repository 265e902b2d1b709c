package io.epdctl.cli;

import io.epdctl.render.ScriptTemplates;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code -t DIR}: the operator's own script templates instead of the built-in ones. */
public final class TemplatesOption {
    @Option(names = {"-t", "--templates"}, paramLabel = "DIR",
            description = "Directory with node.sh and proxy.sh templates to use instead of the built-in ones.")
    Path templatesDir;

    public ScriptTemplates templates() throws ScriptTemplates.TemplateException {
        return templatesDir == null ? ScriptTemplates.builtIn() : ScriptTemplates.fromDirectory(templatesDir);
    }
}
