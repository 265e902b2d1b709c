# Sourced by bin/test: epdctl_docker_daemon makes sure a Docker daemon answers (the container tests use a real
# one). When `docker info` fails, it starts dockerd in the background (as root; its log in $TMPDIR) and waits
# until it answers, for at most 60 s. epdctl_docker_daemon_stop stops only a daemon that epdctl_docker_daemon
# started, never one that was running before.
epdctl_docker_started=
epdctl_docker_daemon() {
    docker info >/dev/null 2>&1 && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "epdctl: the Docker daemon does not answer (docker info); start it, or run bin/test as root" >&2
        exit 1
    fi
    local log="${TMPDIR:-/tmp}/epdctl-dockerd.log" i
    echo "epdctl: starting dockerd (log: $log)" >&2
    dockerd >"$log" 2>&1 &
    epdctl_docker_started=$!
    for i in $(seq 1 600); do
        docker info >/dev/null 2>&1 && return 0
        if ! kill -0 "$epdctl_docker_started" 2>/dev/null; then
            echo "epdctl: dockerd ended at its start; its log, $log:" >&2
            tail -n 20 "$log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "epdctl: dockerd did not answer within 60 s; its log, $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
}
epdctl_docker_daemon_stop() {
    [ -n "$epdctl_docker_started" ] || return 0
    kill "$epdctl_docker_started" 2>/dev/null || true
    local i
    for i in $(seq 1 200); do kill -0 "$epdctl_docker_started" 2>/dev/null || return 0; sleep 0.1; done
}
