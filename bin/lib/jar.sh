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

# The commit the jar is built from, for epdctl --version: "-dirty" when tracked files differ from it,
# "unknown" without git or outside a clone.
epdctl_commit() {
    local commit
    if command -v git >/dev/null && commit=$(git -C "$epdctl_root" rev-parse --short=12 HEAD 2>/dev/null); then
        [ -z "$(git -C "$epdctl_root" status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit-dirty"
        echo "$commit"
    else
        echo unknown
    fi
}

epdctl_build_jar() {
    epdctl_install maven:mvn
    echo "epdctl: building $EPDCTL_JAR (first use or sources changed) ..." >&2
    # Maven 3.8 writes colour resets even with -B and style.color=never: they are stripped, so that a piped
    # or redirected stderr holds plain text.
    local status
    (cd "$epdctl_root" && mvn -B -q -Dstyle.color=never -Depdctl.commit="$(epdctl_commit)" -DskipTests package) 2>&1 |
        sed -u 's/\x1b\[[0-9;]*[A-Za-z]//g' >&2
    status=${PIPESTATUS[0]}
    if [ "$status" -ne 0 ]; then
        echo "epdctl: the build failed; see the Maven output above" >&2
        exit 1
    fi
}

epdctl_once epdctl_jar_is_stale epdctl_build_jar

# epdctl_http PORT REQUEST: sends REQUEST (printf format: \r\n escapes) to 127.0.0.1:PORT and reads the answer
# (at most 5 s); never fails. The launchers use it to train their class archives.
epdctl_http() {
    { exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "$2" >&3 && timeout 5 cat <&3 >/dev/null; exec 3>&-; } 2>/dev/null || true
}
