# Sourced by the benchmark launchers: compiles the tests and sets $EPDCTL_TEST_CLASSPATH (classes, test
# classes and every test dependency), so a benchmark runs with the same fixtures as the tests.
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/jar.sh"
(cd "$epdctl_root" && mvn -B -q test-compile dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile=target/test.classpath) >&2
EPDCTL_TEST_CLASSPATH="$epdctl_root/target/test-classes:$epdctl_root/target/classes:$(cat "$epdctl_root/target/test.classpath")"
