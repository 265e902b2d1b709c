package io.epdctl.cli;

import picocli.CommandLine.IVersionProvider;

/** Reads the version from the jar manifest, so it is written in one place: the pom. */
public final class VersionProvider implements IVersionProvider {
    @Override
    public String[] getVersion() {
        String version = Main.class.getPackage().getImplementationVersion();
        return new String[] {"epdctl " + (version == null ? "(development build)" : version)};
    }
}
