# Sourced by the launchers in bin/: sets $EPDCTL_JAR, building it first when it is missing or
# older than the sources. Build output goes to stderr so that stdout stays the command's data.
epdctl_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
EPDCTL_JAR="$epdctl_root/target/epdctl.jar"
. "$epdctl_root/bin/lib/install.sh"
epdctl_install openjdk-17-jdk-headless:java

# epdctl_once DUE ACTION: runs ACTION when DUE succeeds, holding the build lock and asking DUE again once
# it is held. Many launchers may start at once (a test starting ten simulators): one acts, the others wait.
epdctl_once() {
    "$1" || return 0
    mkdir -p "$epdctl_root/target"
    exec 9>"$epdctl_root/target/.build.lock"
    flock 9
    if "$1"; then
        "$2"
    fi
    exec 9>&-
}

epdctl_jar_is_stale() {
    [ ! -f "$EPDCTL_JAR" ] ||
        [ -n "$(find "$epdctl_root/pom.xml" "$epdctl_root/src/main" "$epdctl_root/templates" \
            -newer "$EPDCTL_JAR" -print -quit 2>/dev/null)" ]
}

epdctl_build_jar() {
    epdctl_install maven:mvn
    echo "epdctl: building $EPDCTL_JAR (first use or sources changed) ..." >&2
    if ! (cd "$epdctl_root" && mvn -B -q -Dstyle.color=never -DskipTests package) >&2; then
        echo "epdctl: the build failed; see the Maven output above" >&2
        exit 1
    fi
}

epdctl_once epdctl_jar_is_stale epdctl_build_jar
