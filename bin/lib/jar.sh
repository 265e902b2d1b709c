# Sourced by the launchers in bin/: sets $EPDCTL_JAR, building it first when it is missing or
# older than the sources. Build output goes to stderr so that stdout stays the command's data.
epdctl_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
EPDCTL_JAR="$epdctl_root/target/epdctl.jar"
. "$epdctl_root/bin/lib/install.sh"
epdctl_install openjdk-17-jdk-headless:java

epdctl_jar_is_stale() {
    [ ! -f "$EPDCTL_JAR" ] ||
        [ -n "$(find "$epdctl_root/pom.xml" "$epdctl_root/src/main" "$epdctl_root/templates" \
            -newer "$EPDCTL_JAR" -print -quit 2>/dev/null)" ]
}

if epdctl_jar_is_stale; then
    mkdir -p "$epdctl_root/target"
    # Many launchers may start at once (a test starting ten simulators): one builds, the others wait.
    exec 9>"$epdctl_root/target/.build.lock"
    flock 9
    if epdctl_jar_is_stale; then
        epdctl_install maven:mvn
        echo "epdctl: building $EPDCTL_JAR (first use or sources changed) ..." >&2
        if ! (cd "$epdctl_root" && mvn -B -q -Dstyle.color=never -DskipTests package) >&2; then
            echo "epdctl: the build failed; see the Maven output above" >&2
            exit 1
        fi
    fi
    exec 9>&-
fi
