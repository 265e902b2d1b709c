package io.epdctl.lifecycle;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A start script as it is on its host, read back into what it runs with: the variables it exports, the
 * argv of its final {@code exec}, and its text before that {@code exec} (the setup, after which
 * {@code collect} asks the command for its version). Read with the POSIX quoting epdctl writes (single
 * quotes, {@code '\''}, backslash-newline continuations) and what operators write in setup lines and
 * templates (double quotes, comments, {@code ;}, {@code &&}); expansions are kept as written, not expanded.
 *
 * @param interpreter the shebang's command ({@code /usr/bin/env bash}), or {@code sh} when there is none
 * @param setup the statements before {@code exec} but its {@code export}s, as words (comments dropped): the
 *     same for every node whose setup lines and directories are the same, whatever its name and variables
 */
public record RenderedScript(String interpreter, Map<String, String> env, List<String> argv, String beforeCommand,
        List<List<String>> setup) {

    /** One simple command: its words and where it is in the text. */
    record Statement(List<String> words, int start, int end) {
    }

    public boolean hasCommand() {
        return !argv.isEmpty();
    }

    public static RenderedScript read(String script) {
        List<Statement> statements = statements(script);
        Map<String, String> env = new LinkedHashMap<>();
        Statement exec = null;
        List<List<String>> setup = new ArrayList<>();
        for (Statement statement : statements) {
            List<String> words = statement.words();
            if (words.get(0).equals("export")) {
                for (String word : words.subList(1, words.size())) {
                    int equals = word.indexOf('=');
                    if (equals > 0) {
                        env.put(word.substring(0, equals), word.substring(equals + 1));
                    }
                }
            } else if (words.get(0).equals("exec") && words.size() > 1) {
                exec = statement;
            } else if (exec == null && words.size() > 2 && words.get(0).equals(CONTAINER_CLI) && words.get(1).equals("run")) {
                exec = statement; // a node in a container: its script's docker run (templates/docker-node.sh)
            }
        }
        if (exec != null) {
            for (Statement statement : statements.subList(0, statements.indexOf(exec))) {
                if (!statement.words().get(0).equals("export")) {
                    setup.add(statement.words());
                }
            }
        }
        String interpreter = script.startsWith("#!") ? script.lines().findFirst().orElse("#!sh").substring(2).strip() : "sh";
        if (exec == null) {
            return new RenderedScript(interpreter, env, List.of(), script, List.of());
        }
        return new RenderedScript(interpreter, env, argv(exec.words(), statements), script.substring(0, commandStart(exec, statements)),
                List.copyOf(setup));
    }

    /**
     * Where the command begins: its exec; for a container node, its runner's first line (naming the CLI), so that
     * what is run as the setup (collect asks the command's version after it) never removes the node's container.
     */
    private static int commandStart(Statement command, List<Statement> statements) {
        if (command.words().get(0).equals("exec")) {
            return command.start();
        }
        return statements.stream().filter(statement -> statement.words().get(0).startsWith("epd_docker="))
                .mapToInt(Statement::start).findFirst().orElse(command.start());
    }

    /** How a container node's script names its container CLI ({@code epd_docker=docker}, then {@code "$epd_docker" run}). */
    private static final String CONTAINER_CLI = "$epd_docker";

    /**
     * The argv of the command a script runs: its exec's; or a container node's docker run, with the CLI the script
     * names, without the driver mounts it adds as it starts ({@code "$@"}) and without the redirection of its output.
     */
    private static List<String> argv(List<String> words, List<Statement> statements) {
        if (words.get(0).equals("exec")) {
            return List.copyOf(words.subList(1, words.size()));
        }
        String cli = statements.stream().map(Statement::words)
                .filter(w -> w.size() == 1 && w.get(0).startsWith("epd_docker=")).map(w -> w.get(0).substring("epd_docker=".length()))
                .findFirst().orElse(CONTAINER_CLI);
        List<String> argv = new ArrayList<>();
        argv.add(cli);
        for (String word : words.subList(1, words.size())) {
            if (!word.equals("$@")) {
                argv.add(word);
            }
        }
        if (argv.size() >= 2 && argv.get(argv.size() - 2).equals(">")) {
            argv.subList(argv.size() - 2, argv.size()).clear();
        }
        return List.copyOf(argv);
    }

    /** The simple commands of {@code script}, each with at least one word. */
    static List<Statement> statements(String script) {
        List<Statement> statements = new ArrayList<>();
        List<String> words = new ArrayList<>();
        StringBuilder word = null;
        int start = -1;
        int i = 0;
        int n = script.length();
        while (i < n) {
            char c = script.charAt(i);
            if (c == '\\' && i + 1 < n) {
                if (script.charAt(i + 1) == '\n') {
                    i += 2;
                    continue;
                }
                word = word == null ? new StringBuilder() : word;
                start = start < 0 ? i : start;
                word.append(script.charAt(i + 1));
                i += 2;
            } else if (c == '\'') {
                word = word == null ? new StringBuilder() : word;
                start = start < 0 ? i : start;
                int close = script.indexOf('\'', i + 1);
                close = close < 0 ? n : close;
                word.append(script, i + 1, close);
                i = close + 1;
            } else if (c == '"') {
                word = word == null ? new StringBuilder() : word;
                start = start < 0 ? i : start;
                i++;
                while (i < n && script.charAt(i) != '"') {
                    char d = script.charAt(i);
                    if (d == '\\' && i + 1 < n && "\"\\$`\n".indexOf(script.charAt(i + 1)) >= 0) {
                        if (script.charAt(i + 1) != '\n') {
                            word.append(script.charAt(i + 1));
                        }
                        i += 2;
                    } else {
                        word.append(d);
                        i++;
                    }
                }
                i++;
            } else if (c == '#' && word == null) {
                while (i < n && script.charAt(i) != '\n') {
                    i++;
                }
            } else if (c == ' ' || c == '\t') {
                if (word != null) {
                    words.add(word.toString());
                    word = null;
                }
                i++;
            } else if (c == '\n' || c == ';' || c == '&' || c == '|') {
                if (word != null) {
                    words.add(word.toString());
                    word = null;
                }
                if (!words.isEmpty()) {
                    statements.add(new Statement(List.copyOf(words), start, i));
                    words.clear();
                }
                start = -1;
                i++;
            } else {
                word = word == null ? new StringBuilder() : word;
                start = start < 0 ? i : start;
                word.append(c);
                i++;
            }
        }
        if (word != null) {
            words.add(word.toString());
        }
        if (!words.isEmpty()) {
            statements.add(new Statement(List.copyOf(words), start, n));
        }
        return statements;
    }
}
