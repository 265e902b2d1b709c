# Sourced by the launchers: epdctl_install PACKAGE:CHECK ... installs, with apt-get, each Debian package
# whose CHECK (a command name, or an absolute path) is missing, so that the README's commands work on
# a fresh machine. Output goes to stderr.
epdctl_install() {
    local missing=() entry package check
    for entry in "$@"; do
        package=${entry%%:*}
        check=${entry#*:}
        if [[ $check == /* ]]; then [ -x "$check" ] && continue; else command -v "$check" >/dev/null && continue; fi
        missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "epdctl: please install: ${missing[*]}" >&2
        exit 1
    fi
    echo "epdctl: installing ${missing[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}
