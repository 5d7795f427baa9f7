#!/bin/bash
# PrairieLearn's external-grader entrypoint (docs/externalGrading.md in PrairieLearn/PrairieLearn): runs
# as root in the course's image; the student's files are in /grade/student, and the grader must create
# /grade/results and write /grade/results/results.json (score in [0, 1]; `gradable: false` with
# `format_errors` for a handin that cannot be graded, so the student keeps the attempt).
# Environment: AUTOGRADER_PL_ROOT (default /grade), AUTOGRADER_PYTHON (default python3).
set -uo pipefail
GRADE="${AUTOGRADER_PL_ROOT:-/grade}"
PYTHON="${AUTOGRADER_PYTHON:-python3}"
HERE=$(cd "$(dirname "$0")" && pwd)
RESULTS="$GRADE/results/results.json"

mkdir -p "$GRADE/results"
# The reference and the hidden tests are here, the report and question data there: root only, so the
# sandboxed worker (another uid) reads none of them.
chmod 700 "$GRADE/results"
chmod -R go-rwx "$HERE"
[ -d "$GRADE/data" ] && chmod -R go-rwx "$GRADE/data"

cd "$HERE"
PYTHONPATH="$HERE" "$PYTHON" -m autograder grade "$GRADE/student" --format prairielearn \
    --assignment @ASSIGNMENT@ --results "$RESULTS"
status=$?
if [ ! -s "$RESULTS" ]; then  # the grader could not even start: no attempt is charged
    cat > "$RESULTS" <<'JSON'
{"gradable": false, "score": 0, "message": "The autograder could not start (not a problem with your code). Please tell the course staff.", "format_errors": ["The autograder could not start (not a problem with your code)."]}
JSON
fi
exit "$status"
