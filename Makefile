# Everything a TA needs, from a fresh clone. `make grade` and `make test` set themselves up.

# Prefer the system interpreter: the sandboxed worker runs as an unprivileged uid, and a Python that
# lives under /root (pyenv, mode 0700) is not executable by that uid.
PYTHON ?= $(shell for p in /usr/bin/python3 python3; do command -v $$p >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV   ?= .venv
PY     := $(VENV)/bin/python
AG     := $(VENV)/bin/autograder
STAMP  := $(VENV)/.installed

# Which assignment every target works on: a name registered under autograder/assignments/ (or the path
# of an assignment folder outside this repository). Writes handouts/$(ASSIGNMENT)/ and dist/$(ASSIGNMENT)/.
ASSIGNMENT ?= hw1p1
ADIR       := autograder/assignments/$(ASSIGNMENT)
SUBMISSION ?=
SAMPLE     := build/sample/$(ASSIGNMENT)
RESULTS    ?= results.json
SLOT       ?= 0
EXPORT     ?=
DUE        ?=
OUT        ?= regrade-out
JOBS       ?= 2
PYTEST_ARGS ?=

# One BLAS thread: numpy's threaded BLAS is ~10x slower on a busy 2-core machine, and graders run in parallel.
export OPENBLAS_NUM_THREADS = 1
export OMP_NUM_THREADS = 1
export MKL_NUM_THREADS = 1

.PHONY: install grade test test-fast lint lint-fix test-slow handout gradescope regrade bench mutants clean check browser autolab prairielearn

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no python3 found (Python 3.10+ is required)"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu: apt-get install python3-venv"; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,report,lint]'
	@touch $@

# Without SUBMISSION, the assignment's sample handin, generated into build/sample/<assignment>/ (tools/make_sample.py).
grade: $(STAMP)
	$(if $(SUBMISSION),,$(PY) -m tools.make_sample --assignment $(ASSIGNMENT) --out $(SAMPLE))
	$(AG) grade $(or $(SUBMISSION),$(SAMPLE)) --assignment $(ASSIGNMENT) --results $(RESULTS) --slot $(SLOT)

# The full suite (unit + integration lanes; `slow` soaks only in test-slow). CI (.ci/run) runs `make lint` and `make test`.
test: $(STAMP) browser
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The fast lane: unit tests only (no sandboxed end-to-end grades), under 2 minutes on 2 cores. A new test
# lands in a lane by tests/conftest.py's rule (file, fixtures, or an explicit unit/integration mark).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m unit $(PYTEST_ARGS)

# Lint + format check + types (config in pyproject.toml). All three run even when one fails.
lint: $(STAMP)
	@rc=0; \
	$(VENV)/bin/ruff check . || rc=1; \
	$(VENV)/bin/ruff format --check . || rc=1; \
	$(VENV)/bin/mypy || rc=1; \
	exit $$rc

# Apply ruff's safe fixes and the formatter to the whole tree, then list what is left for a human.
lint-fix: $(STAMP)
	VENV=$(VENV) tools/lint_fix.sh

# The class report's test opens it in headless Chromium (Debian packages). Idempotent: apt-get runs
# only when a binary is missing, and only where it can (root with apt-get); otherwise that test skips.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver; } \
	        || echo "warning: could not install chromium; the report's browser test will skip"; \
	else echo "note: chromium is not installed (apt-get install chromium chromium-driver); the report's browser test will skip"; fi

# The pre-deploy check: tests collect with rubric marks, reference = full marks, bare handout = 0.
# `make handout` and `make gradescope` run it first and stop when it fails.
check: $(STAMP)
	$(AG) check --assignment $(ASSIGNMENT) --slot $(SLOT)

# The long soaks: 20 repeat grades, every hostile and broken case with the full suite, every task's
# prerequisites, and a correct neighbour's CPU share beside 40 CPU burners on the next slot (timing-based).
test-slow: $(STAMP)
	$(PY) -m pytest -q --run-slow tests/test_determinism.py tests/test_hostile.py tests/test_broken.py \
		tests/test_handout.py tests/test_sandbox.py::test_a_neighbour_keeps_its_cpu_share_beside_an_attacker

# The writeup's figures first, when the assignment draws some (SVGs need Graphviz's `dot` only when a
# figure changed: apt-get install graphviz); then handouts/$(ASSIGNMENT)/ and the repository README's
# table of assignments; the sample handin, when the assignment has one; dist/$(ASSIGNMENT)/handout.zip.
handout: $(STAMP) check
	@if [ -f $(ADIR)/figures.py ]; then $(PY) -m autograder.assignments.$(ASSIGNMENT).figures; fi
	$(AG) handout --assignment $(ASSIGNMENT)
	$(AG) handout --assignment $(ASSIGNMENT) --zip dist/$(ASSIGNMENT)/handout.zip

gradescope: $(STAMP) check
	$(AG) gradescope --assignment $(ASSIGNMENT) --out dist/$(ASSIGNMENT)/autograder.zip

autolab: $(STAMP) check
	$(AG) autolab --assignment $(ASSIGNMENT) --out dist/$(ASSIGNMENT)/autolab

prairielearn: $(STAMP) check
	$(AG) prairielearn --assignment $(ASSIGNMENT) --out dist/$(ASSIGNMENT)/prairielearn

regrade: $(STAMP)
	@test -n "$(EXPORT)" || { echo "usage: make regrade EXPORT=path/to/export.zip [ASSIGNMENT=hw1p1] [OUT=dir] [JOBS=n] [SLOTS=a-b] [FORCE=1] [DUE=2026-02-14T23:59:00-05:00]"; exit 2; }
	$(AG) regrade $(EXPORT) --assignment $(ASSIGNMENT) --out $(OUT) --jobs $(JOBS) $(if $(SLOTS),--slots $(SLOTS)) $(if $(FORCE),--force) $(if $(DUE),--due $(DUE))

bench: $(STAMP)
	$(PY) -m tools.bench --assignment $(ASSIGNMENT) --json bench.json

# MUTANTS_ARGS picks a subset, e.g. MUTANTS_ARGS="--only ops/reduce.py --limit 20" (python -m tools.mutants --help).
mutants: $(STAMP)
	$(PY) -m tools.mutants --assignment $(ASSIGNMENT) $(MUTANTS_ARGS)

clean:
	rm -rf $(VENV) dist build *.egg-info .pytest_cache .hypothesis results.json bench.json $(OUT)
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
