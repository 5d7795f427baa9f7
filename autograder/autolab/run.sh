#!/bin/sh
# Grades Autolab's handin with `autograder grade --format autolab`, prints what the grader printed,
# then ALWAYS the {"scores": ...} line last (zeros with a note when the grader fails or cannot start).
# Usage: sh grader/run.sh HANDIN [PYTHON]    (from the folder autograde.tar was unpacked in)
FALLBACK='@FALLBACK@'
HANDIN="$1"
PYTHON="${2:-python3}"
case "$HANDIN" in /*) ;; *) HANDIN="$(pwd)/$HANDIN" ;; esac
HERE=$(cd "$(dirname "$0")" && pwd) || { echo "$FALLBACK"; exit 0; }
WORK=$(mktemp -d) || { echo "$FALLBACK"; exit 0; }
chmod 700 "$WORK"
cd "$HERE" || { echo "$FALLBACK"; exit 0; }
# -m from $HERE runs the grader shipped in autograde.tar, whatever else the image has installed.
PYTHONPATH="$HERE" "$PYTHON" -m autograder grade "$HANDIN" --format autolab --assignment @ASSIGNMENT@ \
    --results "$WORK/results.json" >"$WORK/out" 2>"$WORK/err"
status=$?
# Students read all of this on Autolab: the staff's sandbox lines stay out (grade locally to see them).
grep -v '^autograder: sandbox protections missing' "$WORK/err"
last=$(tail -n 1 "$WORK/out")
case "$last" in
    '{"scores": '*) sed -e '$d' -e '/^sandbox: /d' "$WORK/out"; printf '%s\n' "$last" ;;
    *) sed '/^sandbox: /d' "$WORK/out"
       echo "autograder: grading failed (exit $status): not a problem with your code; tell course staff"
       echo "$FALLBACK" ;;
esac
rm -rf "$WORK"
exit 0
