# Everything a TA needs, from a fresh clone. `make grade` and `make test` set themselves up.

# Prefer the system interpreter: the sandboxed worker runs as an unprivileged uid, and a Python that
# lives under /root (pyenv, mode 0700) is not executable by that uid.
PYTHON ?= $(shell for p in /usr/bin/python3 python3; do command -v $$p >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV   ?= .venv
PY     := $(VENV)/bin/python
AG     := $(VENV)/bin/autograder
STAMP  := $(VENV)/.installed

SUBMISSION ?= autograder/assignments/hw1p1/examples/sample_handin
RESULTS    ?= results.json
SLOT       ?= 0
EXPORT     ?=
OUT        ?= regrade-out
JOBS       ?= 2
PYTEST_ARGS ?=

# One BLAS thread: numpy's threaded BLAS is ~10x slower on a busy 2-core machine, and graders run in parallel.
export OPENBLAS_NUM_THREADS = 1
export OMP_NUM_THREADS = 1
export MKL_NUM_THREADS = 1

.PHONY: install grade test test-slow handout gradescope regrade bench mutants clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no python3 found (Python 3.10+ is required)"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu: apt-get install python3-venv"; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

grade: $(STAMP)
	$(AG) grade $(SUBMISSION) --results $(RESULTS) --slot $(SLOT)

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The long soaks: 20 repeat grades, every hostile and broken case with the full suite, and a correct
# neighbour's CPU share beside 40 CPU burners on the next slot (timing-based, so not in `make test`).
test-slow: $(STAMP)
	$(PY) -m pytest -q --run-slow tests/test_determinism.py tests/test_hostile.py tests/test_broken.py \
		tests/test_sandbox.py::test_a_neighbour_keeps_its_cpu_share_beside_an_attacker

handout: $(STAMP)
	$(AG) handout
	$(PY) -m autograder.assignments.hw1p1.examples.make_sample
	$(AG) handout --zip dist/handout.zip

gradescope: $(STAMP)
	$(AG) gradescope --out dist/autograder.zip

regrade: $(STAMP)
	@test -n "$(EXPORT)" || { echo "usage: make regrade EXPORT=path/to/export.zip [OUT=dir] [JOBS=n]"; exit 2; }
	$(AG) regrade $(EXPORT) --out $(OUT) --jobs $(JOBS)

bench: $(STAMP)
	$(PY) -m autograder.bench --json bench.json

mutants: $(STAMP)
	$(PY) -m autograder.mutants

clean:
	rm -rf $(VENV) dist build *.egg-info .pytest_cache .hypothesis results.json bench.json $(OUT)
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
