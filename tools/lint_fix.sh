#!/usr/bin/env bash
# The one-time (and any-time) lint sweep: apply ruff's safe fixes and the formatter to the whole tree,
# then show what is left for a human (`make lint` must pass before committing).
# Usage: tools/lint_fix.sh            (from anywhere; uses the repository's .venv, `make install` first)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
# Fix first (isort, pyupgrade), then format, then fix again: formatting can split a statement so that a
# fix's target moves, and a second pass is cheap and idempotent.
"$BIN/ruff" check --fix --quiet . >/dev/null 2>&1 || true
"$BIN/ruff" format --quiet .
"$BIN/ruff" check --fix --quiet . >/dev/null 2>&1 || true
"$BIN/ruff" format --quiet .
echo "== left for hand fixes (ruff):"
"$BIN/ruff" check --statistics . || true
echo "== mypy:"
"$BIN/mypy" | tail -n 1 || true
# solutions/ feeds the generated handout (and the sample handin): reformatting it makes them drift.
if ! git diff --quiet -- solutions; then
    echo "note: solutions/ changed: regenerate the handouts (make handout) before committing."
fi
