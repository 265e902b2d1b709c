package io.epdctl.lifecycle;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.epdctl.state.DeploymentState;
import io.epdctl.state.ProcessRecord;
import io.epdctl.transport.TransportException;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code epdctl collect}: a forensics bundle of a deployment. Every host is asked at once, in one round
 * trip for its facts, its processes' scripts, exit records and log tails, and a second for the version of
 * each node command (which must run after the script's setup lines, read in the first). At the same time
 * the processes are probed as {@code status} does and the proxy's {@code /metrics} is fetched. A host that
 * cannot be reached is a warning, not the end: the bundle holds what could be gathered. Every file is masked
 * ({@link Secrets}): by names, and every secret value read from the scripts wherever it appears.
 */
public final class ForensicsCollector {
    /** How much of each log: enough for the start and the failure of a node, bounded for a bundle. */
    public static final int LOG_LINES = 2000;
    private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(5);
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    private final ProcessControl control;
    private final NodeProbe probe;

    public ForensicsCollector(ProcessControl control, NodeProbe probe) {
        this.control = control;
        this.probe = probe;
    }

    /** What one host gave: its reports (null when unreachable, {@code failure} then says why). */
    private record HostAnswer(ProcessControl.HostReport facts, ProcessControl.HostReport versions,
            Map<String, List<String>> versionNodes, String failure) {
    }

    /** Gathers the bundle; {@code stateFile} is the deployment's state file as the store keeps it. */
    public ForensicsBundle collect(DeploymentState state, Path stateFile) throws InterruptedException {
        Instant now = Instant.now();
        Map<String, List<ProcessRecord>> byHost = new LinkedHashMap<>();
        state.hosts().keySet().forEach(host -> byHost.put(host, new ArrayList<>()));
        state.processes().forEach(process -> byHost.computeIfAbsent(process.host(), host -> new ArrayList<>()).add(process));
        Parallel.Both<Map<String, HostAnswer>, Parallel.Both<String, String>> answers = Parallel.both(
                () -> Parallel.map(List.copyOf(byHost.keySet()), host -> ask(host, state.ecDirectory(), byHost.get(host))),
                () -> Parallel.both(() -> status(state), () -> metrics(state)));

        List<String> warnings = new ArrayList<>();
        List<ForensicsBundle.Entry> raw = new ArrayList<>();
        List<String> secretValues = new ArrayList<>();
        raw.add(localFile("topology.yaml", Path.of(state.topologyFile()), warnings));
        raw.add(localFile("state.json", stateFile, warnings));
        raw.add(entry("status.json", answers.second().first()));
        raw.add(entry("proxy-metrics.txt", answers.second().second()));
        int answered = 0;
        for (Map.Entry<String, HostAnswer> host : answers.first().entrySet()) {
            HostAnswer answer = host.getValue();
            if (answer.facts() == null) {
                warnings.add("host " + host.getKey() + " not collected: " + answer.failure());
                continue;
            }
            answered++;
            Map<String, HostCommands.Item> items = answer.facts().items();
            for (HostCommands.HostFact fact : HostCommands.hostFacts(state.ecDirectory())) {
                raw.add(entry("hosts/" + host.getKey() + "/" + fact.key() + ".txt",
                        itemText(host.getKey(), "$ " + fact.command(), items.get(fact.key()), warnings)));
            }
            raw.add(entry("hosts/" + host.getKey() + "/vllm-version.txt", versions(host.getKey(), answer, warnings)));
            for (ProcessRecord process : byHost.get(host.getKey())) {
                HostCommands.Item script = items.get(HostCommands.scriptKey(process));
                if (script != null && Integer.valueOf(0).equals(script.status())) {
                    RenderedScript read = RenderedScript.read(script.text());
                    secretValues.addAll(Secrets.secretValues(read.env(), read.argv()));
                }
                String node = "nodes/" + process.name() + "/";
                raw.add(entry(node + process.name() + ".sh", itemText(host.getKey(), "$ cat " + process.script(), script, warnings)));
                raw.add(entry(node + "log-tail.txt", itemText(host.getKey(), "$ tail -n " + LOG_LINES + " " + process.log(),
                        items.get(HostCommands.logKey(process)), warnings)));
                raw.add(entry(node + "previous-log-tail.txt", itemText(host.getKey(), "$ tail -n " + LOG_LINES + " "
                        + process.previousLog(), items.get(HostCommands.previousLogKey(process)), warnings)));
                raw.add(entry(node + "exits.txt", itemText(host.getKey(), "$ cat " + process.exitsFile(),
                        items.get(HostCommands.exitsKey(process)), warnings)));
                raw.add(entry(node + "exit.txt", exitHistory(process, answer.facts().facts(process))));
            }
        }
        Secrets secrets = Secrets.with(secretValues);
        List<ForensicsBundle.Entry> masked = new ArrayList<>();
        masked.add(entry("collect.txt", secrets.text(manifest(state, now, warnings, answered, byHost.size()))));
        for (ForensicsBundle.Entry entry : raw) {
            masked.add(entry(entry.path(), secrets.text(new String(entry.content(), StandardCharsets.UTF_8))));
        }
        return new ForensicsBundle("epdctl-collect-" + state.deployment() + "-" + STAMP.format(now), now, masked,
                List.copyOf(warnings), answered);
    }

    private HostAnswer ask(String host, String ecDirectory, List<ProcessRecord> processes) {
        ProcessControl.HostReport facts;
        try {
            facts = control.collect(host, ecDirectory, processes, LOG_LINES);
        } catch (TransportException e) {
            return new HostAnswer(null, null, Map.of(), e.getMessage());
        }
        // One version per command and setup: nodes with the same setup lines would only say it again.
        Map<String, List<String>> versionNodes = new LinkedHashMap<>();
        StringBuilder commands = new StringBuilder();
        Map<List<Object>, String> keys = new LinkedHashMap<>();
        Map<String, HostCommands.Item> items = facts.items();
        for (ProcessRecord process : processes) {
            HostCommands.Item item = items.get(HostCommands.scriptKey(process));
            if (process.isProxy() || item == null || !Integer.valueOf(0).equals(item.status())) {
                continue;
            }
            RenderedScript script = RenderedScript.read(item.text());
            if (!script.hasCommand()) {
                continue;
            }
            List<Object> identity = List.of(script.interpreter(), script.argv().get(0), script.setup());
            String key = keys.get(identity);
            if (key == null) {
                key = "version:" + process.name();
                keys.put(identity, key);
                commands.append(HostCommands.commandVersion(key, process, script));
            }
            versionNodes.computeIfAbsent(key, k -> new ArrayList<>()).add(process.name());
        }
        if (commands.isEmpty()) {
            return new HostAnswer(facts, null, versionNodes, null);
        }
        try {
            return new HostAnswer(facts, control.items(host, commands.toString()), versionNodes, null);
        } catch (TransportException e) {
            return new HostAnswer(facts, null, versionNodes, "asking the node commands' versions failed: " + e.getMessage());
        }
    }

    private static String versions(String host, HostAnswer answer, List<String> warnings) {
        if (answer.versionNodes().isEmpty()) {
            return "(no node on " + host + " has a script with a command to ask)\n";
        }
        if (answer.versions() == null) {
            warnings.add("host " + host + ": " + answer.failure());
            return "(" + answer.failure() + ")\n";
        }
        StringBuilder text = new StringBuilder();
        Map<String, HostCommands.Item> items = answer.versions().items();
        answer.versionNodes().forEach((key, nodes) -> text.append(itemText(host,
                "$ COMMAND --version, after the setup lines of the script of " + String.join(", ", nodes), items.get(key), warnings)));
        return text.toString();
    }

    /** An item's output under the command that printed it, with its exit status; what is missing says so. */
    private static String itemText(String host, String heading, HostCommands.Item item, List<String> warnings) {
        if (item == null) {
            warnings.add(host + ": no answer for `" + heading.substring(2) + "`");
            return heading + "\n(no answer from " + host + ")\n";
        }
        if (item.missingTool() != null) {
            return heading + "\n(" + item.missingTool() + " is not installed on " + host + ")\n";
        }
        String status = item.status() == null ? "(it did not finish)" : "(exit status " + item.status() + ")";
        return heading + "\n" + item.text() + status + "\n";
    }

    private static String exitHistory(ProcessRecord process, HostCommands.ProcessFacts facts) {
        StringBuilder text = new StringBuilder();
        text.append("process group: ").append(process.isStarted() ? process.processGroup() : "-").append('\n')
                .append("started: ").append(process.startedAt() == null ? "-" : process.startedAt()).append('\n')
                .append("state now: ").append(facts.state() == null ? "not reported" : facts.state().describe()).append('\n')
                .append("live processes of its group: ").append(facts.members().isEmpty() ? "none" : facts.members()).append('\n')
                .append("last exit recorded by its supervisor: ").append(lastExit(facts))
                .append('\n')
                .append("restarts by its supervisor: ").append(facts.state() == null ? "not reported" : facts.state().supervision().restarts())
                .append('\n')
                .append("(the run before's log is ").append(process.previousLog()).append(", older ones .log.2 to .log.")
                .append(Supervisor.KEPT_LOGS).append(", each exit in ").append(process.exitsFile()).append(")\n");
        return text.toString();
    }

    private static String lastExit(HostCommands.ProcessFacts facts) {
        ProcessState.LastExit supervised = facts.state() == null ? null : facts.state().supervision().lastExit();
        if (supervised != null) {
            return supervised.describe() + " at " + supervised.at() + " (" + supervised.outcome() + ")";
        }
        return facts.lastExitStatus() == null ? "none" : "status " + facts.lastExitStatus()
                + (facts.lastExitEpochSeconds() == null ? "" : " at " + Instant.ofEpochSecond(facts.lastExitEpochSeconds()));
    }

    private String status(DeploymentState state) {
        try {
            List<StatusReport.Row> rows = new StatusReport(control, probe).rows(state);
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(Map.of("deployment", state.deployment(), "processes", rows)) + "\n";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted)\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("rows of strings and numbers always convert to JSON", e);
        }
    }

    private String metrics(DeploymentState state) {
        ProcessRecord proxy = state.processes().stream().filter(ProcessRecord::isProxy).findFirst().orElse(null);
        if (proxy == null) {
            return "(no proxy is recorded)\n";
        }
        String url = NodeProbe.uri(proxy.address(), proxy.port(), "/metrics").toString();
        try {
            HttpClient client = HttpClient.newBuilder().connectTimeout(HTTP_TIMEOUT).build();
            HttpResponse<String> response = client.send(HttpRequest.newBuilder(NodeProbe.uri(proxy.address(), proxy.port(), "/metrics"))
                    .timeout(HTTP_TIMEOUT).GET().build(), HttpResponse.BodyHandlers.ofString());
            return "# GET " + url + ": " + response.statusCode() + "\n" + response.body();
        } catch (IOException e) {
            return "# GET " + url + " failed: " + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()) + "\n";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "# GET " + url + ": interrupted\n";
        }
    }

    private static ForensicsBundle.Entry localFile(String path, Path file, List<String> warnings) {
        try {
            return new ForensicsBundle.Entry(path, Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            warnings.add(path + ": " + file + " no longer exists");
            return entry(path, "(" + file + " no longer exists)\n");
        } catch (IOException e) {
            warnings.add(path + ": cannot read " + file + ": " + e.getMessage());
            return entry(path, "(cannot read " + file + ": " + e.getMessage() + ")\n");
        }
    }

    private static String manifest(DeploymentState state, Instant now, List<String> warnings, int answered, int hosts) {
        StringBuilder text = new StringBuilder("epdctl collect of deployment " + state.deployment() + " at " + now + "\n")
                .append("hosts answered: ").append(answered).append(" of ").append(hosts).append('\n')
                .append("topology.yaml is the file the state records (" + state.topologyFile() + ") as it is now; "
                        + "nodes/NODE/NODE.sh is the script that runs, read from its host\n")
                .append("values of variables, flags and keys named like keys, tokens, secrets or passwords are masked as "
                        + Secrets.MASK + " in every file, and so is every such value found in the scripts, wherever it appears\n");
        if (warnings.isEmpty()) {
            text.append("everything was collected\n");
        } else {
            text.append("not collected:\n");
            warnings.forEach(warning -> text.append("  ").append(warning).append('\n'));
        }
        return text.toString();
    }

    private static ForensicsBundle.Entry entry(String path, String text) {
        return new ForensicsBundle.Entry(path, text.getBytes(StandardCharsets.UTF_8));
    }
}
