package io.epdctl.render;

import io.epdctl.shell.Shell;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The skeletons of the start scripts ({@code templates/node.sh}, {@code templates/proxy.sh}, and
 * {@code templates/docker-node.sh} for nodes that run in a container, where {@code {{command}}} is the lines that
 * run the container, see {@link ContainerLaunch#script}), filled with a {@link LaunchSpec}. Placeholders are {@code {{name}}}; a line holding only a placeholder that
 * comes out empty is dropped. Every value is quoted by epdctl; the template itself is the operator's.
 */
public final class ScriptTemplates {
    public static final String NODE = "node.sh";
    public static final String PROXY = "proxy.sh";
    public static final String DOCKER_NODE = "docker-node.sh";
    static final Set<String> PLACEHOLDERS = Set.of(
            "deployment", "name", "role", "host", "exports", "setup", "directories", "command");
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{\\{([a-z]+)}}");

    private final String node;
    private final String proxy;
    private final String dockerNode;

    private ScriptTemplates(String node, String proxy, String dockerNode) {
        this.node = node;
        this.proxy = proxy;
        this.dockerNode = dockerNode;
    }

    /** The templates shipped in the jar (a copy of the repository's {@code templates/}). */
    public static ScriptTemplates builtIn() {
        return new ScriptTemplates(resource(NODE), resource(PROXY), resource(DOCKER_NODE));
    }

    /**
     * The operator's own templates from {@code directory}; each must name only known placeholders and
     * contain {@code {{command}}}. {@code docker-node.sh} may be left out (the built-in one is used).
     */
    public static ScriptTemplates fromDirectory(Path directory) throws TemplateException {
        Path docker = directory.resolve(DOCKER_NODE);
        return new ScriptTemplates(file(directory.resolve(NODE)), file(directory.resolve(PROXY)),
                Files.exists(docker) ? file(docker) : resource(DOCKER_NODE));
    }

    public String script(String deployment, LaunchSpec launch) {
        String template = launch.role().equals("proxy") ? proxy : launch.container() != null ? dockerNode : node;
        Map<String, String> values = Map.of(
                "deployment", deployment,
                "name", launch.name(),
                "role", launch.role(),
                "host", launch.host(),
                "exports", launch.env().entrySet().stream()
                        .map(e -> "export " + e.getKey() + "=" + Shell.quote(e.getValue()))
                        .collect(Collectors.joining("\n")),
                "setup", String.join("\n", launch.setup()),
                "directories", launch.directories().stream()
                        .map(dir -> "mkdir -p -- " + Shell.quote(dir))
                        .collect(Collectors.joining("\n")),
                "command", launch.container() != null ? launch.container().script() : commandLines(launch.argv()));
        List<String> lines = new ArrayList<>();
        for (String line : template.split("\n", -1)) {
            Matcher alone = PLACEHOLDER.matcher(line.strip());
            if (alone.matches() && values.get(alone.group(1)).isEmpty()) {
                continue;
            }
            lines.add(PLACEHOLDER.matcher(line).replaceAll(m -> Matcher.quoteReplacement(values.get(m.group(1)))));
        }
        return String.join("\n", lines);
    }

    /** One flag per line, for a script a person can read; values quoted. */
    static String commandLines(List<String> argv) {
        StringBuilder out = new StringBuilder();
        for (String word : argv) {
            if (out.length() > 0) {
                out.append(word.startsWith("--") ? " \\\n    " : " ");
            }
            out.append(Shell.word(word));
        }
        return out.toString();
    }

    private static String resource(String name) {
        try (InputStream in = ScriptTemplates.class.getResourceAsStream("/templates/" + name)) {
            if (in == null) {
                throw new IllegalStateException("the jar lacks templates/" + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String file(Path path) throws TemplateException {
        String text;
        try {
            text = Files.readString(path);
        } catch (NoSuchFileException e) {
            throw new TemplateException(path + ": no such template (a template directory holds "
                    + NODE + " and " + PROXY + ")");
        } catch (IOException e) {
            throw new TemplateException(path + ": cannot read the template: " + e.getMessage());
        }
        Matcher m = PLACEHOLDER.matcher(text);
        while (m.find()) {
            if (!PLACEHOLDERS.contains(m.group(1))) {
                throw new TemplateException(path + ": unknown placeholder {{" + m.group(1) + "}} (known: "
                        + PLACEHOLDERS.stream().sorted().map(p -> "{{" + p + "}}").collect(Collectors.joining(" ")) + ")");
            }
        }
        if (!text.contains("{{command}}")) {
            throw new TemplateException(path + ": the template never runs {{command}}");
        }
        return text;
    }

    /** A template the operator supplied is unusable. */
    public static final class TemplateException extends Exception {
        private static final long serialVersionUID = 1L;

        public TemplateException(String message) {
            super(message);
        }
    }
}
