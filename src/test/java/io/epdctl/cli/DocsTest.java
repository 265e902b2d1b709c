package io.epdctl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.epdctl.testing.Cli;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * What README.md and docs/*.md show stays true: every epdctl command they show parses against the real
 * command model, every repository path and bin/ script they name exists, every link into a doc finds its
 * file and heading, and every topology example validates. Parsing only: nothing runs, no process starts.
 */
class DocsTest {
    /** What the synopses' placeholders stand for. */
    private static final Map<String, String> SAMPLES = Map.ofEntries(
            Map.entry("FILE", "topologies/demo-local.yaml"), Map.entry("FILE.tar.gz", "bundle.tar.gz"),
            Map.entry("NAME", "demo"), Map.entry("NODE", "p0"), Map.entry("N", "20"),
            Map.entry("DURATION", "10m"), Map.entry("DIR", "/tmp/epdctl-docs"), Map.entry("COMMAND", "up"));
    private static final Pattern REPOSITORY_PATH =
            Pattern.compile("(?<![\\w./~-])(?:bin|src|topologies|templates|docs|\\.ci)/[\\w./-]*[\\w/]");
    private static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");
    private static final Pattern INLINE_CODE = Pattern.compile("`([^`]+)`");

    private record Doc(Path path, List<String> lines) {
        String where(int index) {
            return path + ":" + (index + 1);
        }
    }

    /** A command line a doc shows; {@code mention} is inline prose, which may leave out required parameters. */
    private record Shown(String where, String text, List<String> args, boolean mention) {
    }

    private static List<Doc> docs;

    @BeforeAll
    static void readDocs() throws IOException {
        List<Path> paths = new ArrayList<>(List.of(Path.of("README.md")));
        try (Stream<Path> files = Files.list(Path.of("docs"))) {
            files.filter(p -> p.toString().endsWith(".md")).sorted().forEach(paths::add);
        }
        docs = new ArrayList<>();
        for (Path path : paths) {
            docs.add(new Doc(path, Files.readAllLines(path)));
        }
        assertThat(docs).hasSizeGreaterThan(1);
    }

    @Test
    void everyCommandShownParses() {
        List<Shown> shown = shownCommands();
        assertThat(shown).as("commands found in the docs").hasSizeGreaterThan(20);
        assertThat(shown).extracting(Shown::text).anyMatch(text -> text.startsWith("epdctl validate"))
                .contains("bin/epdctl up topologies/demo-local.yaml");
        List<String> problems = new ArrayList<>();
        for (Shown command : shown) {
            String problem = parseProblem(command);
            if (problem != null) {
                problems.add(command.where() + ": `" + command.text() + "`: " + problem);
            }
        }
        assertThat(problems).as("commands in the docs that epdctl does not accept").isEmpty();
    }

    @Test
    void everyRepositoryPathNamedExists() {
        List<String> missing = new ArrayList<>();
        for (Doc doc : docs) {
            boolean fence = false;
            for (int i = 0; i < doc.lines().size(); i++) {
                String line = doc.lines().get(i);
                if (line.startsWith("```")) {
                    fence = !fence;
                    continue;
                }
                // in prose only what is written as code, in blocks every word
                List<String> pieces = fence ? List.of(line) : inlineCode(line);
                for (String piece : pieces) {
                    Matcher path = REPOSITORY_PATH.matcher(piece);
                    while (path.find()) {
                        if (!Files.exists(Path.of(path.group()))) {
                            missing.add(doc.where(i) + ": " + path.group());
                        }
                    }
                }
            }
        }
        assertThat(missing).as("paths the docs name that are not in the repository").isEmpty();
    }

    @Test
    void everyLinkFindsItsFileAndHeading() {
        List<String> broken = new ArrayList<>();
        for (Doc doc : docs) {
            for (int i = 0; i < doc.lines().size(); i++) {
                Matcher link = LINK.matcher(doc.lines().get(i));
                while (link.find()) {
                    String target = link.group(1);
                    if (target.matches("^[a-z]+:.*")) {
                        continue; // http(s), mailto: not this repository's
                    }
                    int hash = target.indexOf('#');
                    String file = hash < 0 ? target : target.substring(0, hash);
                    Path resolved = file.isEmpty() ? doc.path() : doc.path().resolveSibling(file).normalize();
                    if (!Files.exists(resolved)) {
                        broken.add(doc.where(i) + ": " + target + ": no file " + resolved);
                    } else if (hash >= 0 && !anchors(resolved).contains(target.substring(hash + 1))) {
                        broken.add(doc.where(i) + ": " + target + ": no such heading in " + resolved
                                + " (headings: " + anchors(resolved) + ")");
                    }
                }
            }
        }
        assertThat(broken).as("links in the docs that lead nowhere").isEmpty();
    }

    @Test
    void everyTopologyExampleValidates(@TempDir Path dir) throws IOException {
        int validated = 0;
        for (Doc doc : docs) {
            List<String> lines = doc.lines();
            for (int i = 0; i < lines.size(); i++) {
                if (!lines.get(i).equals("```yaml")) {
                    continue;
                }
                int start = i + 1;
                StringBuilder yaml = new StringBuilder();
                for (i = start; i < lines.size() && !lines.get(i).startsWith("```"); i++) {
                    yaml.append(lines.get(i)).append('\n');
                }
                if (!Pattern.compile("(?m)^nodes:").matcher(yaml).find()) {
                    continue; // a fragment (a section to put into a topology), not a whole file
                }
                Path file = Files.writeString(dir.resolve("example-" + validated++ + ".yaml"), yaml);
                Cli.Result result = Cli.run("validate", file.toString());
                assertThat(result.exitCode()).as("the topology at %s: %s", doc.where(start - 1), result).isZero();
                assertThat(result.err()).as("the topology at %s: %s", doc.where(start - 1), result).isEmpty();
            }
        }
        assertThat(validated).as("topology examples in the docs").isPositive();
    }

    /** Why picocli rejects the command, or null when it parses. */
    private static String parseProblem(Shown command) {
        CommandLine commandLine = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
        try {
            commandLine.parseArgs(command.args().toArray(String[]::new));
            return null;
        } catch (CommandLine.MissingParameterException e) {
            return command.mention() ? null : e.getMessage() + " (parsed as " + command.args() + ")";
        } catch (CommandLine.ParameterException e) {
            return e.getMessage() + " (parsed as " + command.args() + ")";
        }
    }

    /** Command lines in ```sh blocks, the commands table's synopses and inline code that begins with epdctl. */
    private static List<Shown> shownCommands() {
        List<Shown> shown = new ArrayList<>();
        for (Doc doc : docs) {
            List<String> lines = doc.lines();
            boolean sh = false;
            for (int i = 0; i < lines.size(); i++) {
                String line = lines.get(i);
                if (line.startsWith("```")) {
                    sh = !sh && line.equals("```sh");
                    continue;
                }
                if (sh) {
                    int first = i;
                    StringBuilder text = new StringBuilder(stripComment(line).strip());
                    while (text.toString().endsWith("\\") && i + 1 < lines.size()) {
                        text.setLength(text.length() - 1);
                        text.append(' ').append(stripComment(lines.get(++i)).strip());
                    }
                    String command = text.toString().replaceAll("\\s+", " ").strip();
                    if (command.startsWith("epdctl ") || command.startsWith("bin/epdctl ")) {
                        shown.add(new Shown(doc.where(first), command, arguments(words(command)), false));
                    }
                    continue;
                }
                for (String code : inlineCode(line)) {
                    if (code.matches("(bin/)?epdctl .+") && !code.matches("\\S+ \\S+:.*")) {
                        // a table's first cell is a synopsis, which must be whole; prose may mention a command
                        boolean synopsis = line.startsWith("| `" + code + "`");
                        for (List<String> args : expand(code)) {
                            shown.add(new Shown(doc.where(i), code, args, !synopsis));
                        }
                    }
                }
            }
        }
        return shown;
    }

    /** A synopsis with every [optional part] given and, per `a|b`, one command line for each alternative. */
    private static List<List<String>> expand(String synopsis) {
        List<String> words = words(synopsis.replace("\\|", "|").replaceAll("[\\[\\]]", ""));
        words.removeIf(word -> word.equals("..."));
        Set<List<String>> variants = new LinkedHashSet<>();
        variants.add(arguments(words.stream().map(word -> word.split("\\|")[0]).toList()));
        for (int w = 0; w < words.size(); w++) {
            for (String alternative : words.get(w).split("\\|")) {
                List<String> variant = new ArrayList<>(words.stream().map(word -> word.split("\\|")[0]).toList());
                variant.set(w, alternative);
                variants.add(arguments(variant));
            }
        }
        return new ArrayList<>(variants);
    }

    /** The words after the command's name, placeholders replaced by samples. */
    private static List<String> arguments(List<String> words) {
        return words.stream().skip(1).map(word -> SAMPLES.getOrDefault(word, word)).toList();
    }

    /** Splits as sh does for the plain words and '...' / "..." the docs use. */
    private static List<String> words(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder word = null;
        char quote = 0;
        for (char c : text.toCharArray()) {
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else {
                    word.append(c);
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
                word = word == null ? new StringBuilder() : word;
            } else if (Character.isWhitespace(c)) {
                if (word != null) {
                    words.add(word.toString());
                    word = null;
                }
            } else {
                word = word == null ? new StringBuilder() : word;
                word.append(c);
            }
        }
        if (word != null) {
            words.add(word.toString());
        }
        return words;
    }

    private static String stripComment(String line) {
        Matcher comment = Pattern.compile("(^|\\s)#").matcher(line);
        return comment.find() ? line.substring(0, comment.start()) : line;
    }

    private static List<String> inlineCode(String line) {
        List<String> codes = new ArrayList<>();
        Matcher code = INLINE_CODE.matcher(line);
        while (code.find()) {
            codes.add(code.group(1));
        }
        return codes;
    }

    /** The anchors GitHub gives a file's headings. */
    private static Set<String> anchors(Path file) {
        Map<String, Integer> seen = new LinkedHashMap<>();
        Set<String> anchors = new LinkedHashSet<>();
        boolean fence = false;
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith("```")) {
                    fence = !fence;
                } else if (!fence && line.matches("#{1,6} .*")) {
                    String slug = line.replaceFirst("#+ ", "").strip().toLowerCase(Locale.ROOT)
                            .replaceAll("[^\\p{L}\\p{N} _-]", "").replace(' ', '-');
                    int count = seen.merge(slug, 1, Integer::sum);
                    anchors.add(count == 1 ? slug : slug + "-" + (count - 1));
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return anchors;
    }
}
