#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04, Python 3.10).
# It installs the grader into a virtual env OUTSIDE /root (the sandboxed worker runs as an unprivileged
# uid and must be able to execute that Python), then locks the source so that uid cannot read the
# reference solution or the hidden tests.
#
# Usage: setup.sh [STEP...]   STEP is venv, install, lock or warm; no STEP runs all four in that order.
# Environment: AUTOGRADER_ROOT (default /autograder), AUTOGRADER_VENV (default /opt/autograder-venv),
#              AUTOGRADER_SYSTEM_PYTHON (default /usr/bin/python3).
set -euo pipefail

AUTOGRADER_ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$AUTOGRADER_ROOT/source"
VENV="${AUTOGRADER_VENV:-/opt/autograder-venv}"
SYSTEM_PYTHON="${AUTOGRADER_SYSTEM_PYTHON:-/usr/bin/python3}"

apt_install() {
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

step_venv() {
    [ -x "$SYSTEM_PYTHON" ] || apt_install python3
    # Ubuntu's python3 lacks ensurepip until python3-venv is installed: try first, install on failure.
    if ! "$SYSTEM_PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
        apt_install python3-venv python3-pip
        rm -rf "$VENV"
        "$SYSTEM_PYTHON" -m venv "$VENV"
    fi
    # Readable and executable by every uid, whatever umask we were started with.
    chmod -R go+rX "$VENV"
}

step_install() {
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # Editable: the grader finds the reference (solutions/<assignment>/) next to its own source.
    "$VENV/bin/python" -m pip install --quiet -e "$SOURCE"
    chmod -R go+rX "$VENV"
}

step_lock() {
    # The reference backward code and the hidden tests live here: root only.
    chmod -R go-rwx "$SOURCE"
}

step_warm() {
    # Grade the reference once so its answers are cached in the image (root's own cache folder):
    # each student's run then only computes their side. A failure here only costs speed.
    (cd "$SOURCE" && "$VENV/bin/python" -m autograder grade solutions/@ASSIGNMENT@ --assignment @ASSIGNMENT@ --quiet \
        --results /tmp/autograder-warm.json) >/dev/null 2>&1 || echo "setup.sh: warm-up grading failed (grading still works, slower)" >&2
    rm -f /tmp/autograder-warm.json
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(venv install lock warm)
for step in "${steps[@]}"; do
    case "$step" in
        venv|install|lock|warm) "step_$step" ;;
        *) echo "setup.sh: unknown step '$step' (expected venv, install, lock or warm)" >&2; exit 2 ;;
    esac
done
