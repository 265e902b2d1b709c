package io.epdctl.testing;

import io.epdctl.shell.Shell;
import io.epdctl.topology.ProxyKind;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The upstream proxy scripts, unmodified, for tests and the benchmark: they are not in this repository, so they are
 * found in the directory named by {@value #DIRECTORY_VARIABLE}, under their upstream file names, and run by Debian's
 * Python ({@code /usr/bin/python3}, or {@value #PYTHON_VARIABLE}) through {@code run_upstream.py} with a stand-in
 * {@code vllm.logger} (test resources in {@value #SHIMS}). {@link #missing} says why a script cannot run here.
 */
public final class UpstreamScripts {
    public static final String DIRECTORY_VARIABLE = "EPDCTL_UPSTREAM_PROXIES";
    public static final String PYTHON_VARIABLE = "EPDCTL_UPSTREAM_PYTHON";
    static final String SHIMS = "/io/epdctl/bench/upstream/";
    private static final List<String> SHIM_FILES = List.of("run_upstream.py", "vllm/__init__.py", "vllm/logger.py");

    private static final Map<String, String> DEBIAN_PACKAGES = Map.of("fastapi", "python3-fastapi", "httpx",
            "python3-httpx", "uvicorn", "python3-uvicorn", "PIL", "python3-pil", "aiohttp", "python3-aiohttp",
            "uvloop", "python3-uvloop");

    private UpstreamScripts() {
    }

    /** The interpreter: {@value #PYTHON_VARIABLE}, else Debian's (the PATH's may be a pyenv one without the packages). */
    public static Path python() {
        String python = System.getenv(PYTHON_VARIABLE);
        return Path.of(python == null || python.isBlank() ? "/usr/bin/python3" : python);
    }

    /** Where the kind's script is, when {@value #DIRECTORY_VARIABLE} is set. */
    public static Optional<Path> script(ProxyKind kind) {
        String directory = System.getenv(DIRECTORY_VARIABLE);
        return directory == null || directory.isBlank() ? Optional.empty() : Optional.of(Path.of(directory, kind.fileName()));
    }

    /** Why the kind's script cannot run here (no directory, no script, no Python or a missing module), or empty. */
    public static Optional<String> missing(ProxyKind kind) throws IOException, InterruptedException {
        Optional<Path> script = script(kind);
        if (script.isEmpty()) {
            return Optional.of(DIRECTORY_VARIABLE + " is not set: set it to a directory holding " + kind.fileName()
                    + " (the upstream script, not part of this repository)");
        }
        if (!Files.isRegularFile(script.get())) {
            return Optional.of("no " + kind.fileName() + " in " + DIRECTORY_VARIABLE + "=" + script.get().getParent());
        }
        // vllm.logger: the shims stand in for it
        return missingModules(python(), kind.modules().stream().filter(module -> !module.startsWith("vllm")).toList());
    }

    /** Why {@code python} cannot import {@code modules}, or empty. */
    public static Optional<String> missingModules(Path python, List<String> modules) throws IOException, InterruptedException {
        if (!Files.isExecutable(python)) {
            return Optional.of("no Python interpreter at " + python + " (" + PYTHON_VARIABLE + ")");
        }
        StringBuilder check = new StringBuilder("missing = []\n");
        for (String module : modules) {
            check.append("try:\n    import ").append(module).append("\nexcept ImportError:\n    missing.append('")
                    .append(module).append("')\n");
        }
        check.append("print(' '.join(missing))\n");
        Process process = new ProcessBuilder(python.toString(), "-c", check.toString()).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (process.waitFor() != 0) {
            return Optional.of(python + " failed to check its modules: " + output);
        }
        if (output.isEmpty()) {
            return Optional.empty();
        }
        List<String> absent = List.of(output.split(" "));
        return Optional.of(python + " cannot import " + String.join(", ", absent) + "; on Debian: apt-get install "
                + String.join(" ", absent.stream().map(module -> DEBIAN_PACKAGES.getOrDefault(module, module)).toList()));
    }

    /** The script runner and the stand-in vllm package, written into {@code directory}. */
    public static Path writeShims(Path directory) throws IOException {
        for (String file : SHIM_FILES) {
            copyResource(file, directory.resolve(file));
        }
        return directory;
    }

    /** A test resource of the shims' directory (the benchmark's wrk script lives there too). */
    public static void copyResource(String file, Path target) throws IOException {
        Files.createDirectories(target.getParent());
        try (InputStream in = UpstreamScripts.class.getResourceAsStream(SHIMS + file)) {
            if (in == null) {
                throw new IOException("missing test resource " + SHIMS + file);
            }
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /**
     * An executable that runs {@code run_upstream.py SCRIPT ARGS...} with {@code python}: what {@code proxy.python}
     * names in a topology, so that epdctl's rendered {@code PYTHON SCRIPT ARGS...} runs the script through the shims.
     */
    public static Path launcher(Path shims, Path python) throws IOException {
        Path launcher = shims.resolve("python-upstream");
        Files.writeString(launcher, "#!/bin/sh\nexec " + Shell.quote(python.toString()) + " "
                + Shell.quote(shims.resolve("run_upstream.py").toString()) + " \"$@\"\n");
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
        return launcher;
    }
}
