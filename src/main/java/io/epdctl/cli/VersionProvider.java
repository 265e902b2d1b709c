package io.epdctl.cli;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarFile;
import picocli.CommandLine.IVersionProvider;

/**
 * The version from the jar's manifest (written by the pom: the version there, the commit as the build was
 * told it, {@code bin/lib/jar.sh} passes it), so it is written in one place. Outside a jar, or built without
 * git: "unknown".
 */
public final class VersionProvider implements IVersionProvider {
    @Override
    public String[] getVersion() {
        String version = Main.class.getPackage().getImplementationVersion();
        return new String[] {"epdctl " + (version == null ? "(development build)" : version) + ", commit " + commit()};
    }

    /** The Build-Commit of the jar epdctl runs from; the manifest of this jar, not of a dependency's. */
    private static String commit() {
        try {
            Path location = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (!Files.isRegularFile(location)) {
                return "unknown";
            }
            try (JarFile jar = new JarFile(location.toFile())) {
                String commit = jar.getManifest() == null ? null : jar.getManifest().getMainAttributes().getValue("Build-Commit");
                return commit == null || commit.isBlank() ? "unknown" : commit;
            }
        } catch (IOException | URISyntaxException | SecurityException | NullPointerException e) {
            return "unknown";
        }
    }
}
