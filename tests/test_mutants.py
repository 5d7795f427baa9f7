"""The mutant generator behind `make mutants` (tools/mutants.py): which lines it mutates and what it plants."""

import dataclasses
from pathlib import Path

import pytest

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from tools import assignment as assignments
from tools.mutants import EQUIVALENT_FILE, fenced_lines, generate_mutants, load_equivalent, mutations_of_line

TOY = '''\
def backward(self, grad):
    """Given docstring."""
    x = 1 + 2
    # BEGIN SOLUTION Task 2.3: Mul.backward — return both
    a, b = self.saved
    # a comment inside the fence is not mutated
    return grad * b.T, grad.sum(axis=0, keepdims=True)
    # END SOLUTION
'''


def test_only_lines_inside_fences_are_mutated():
    assert list(fenced_lines(TOY)) == [5, 7]


def test_mutations_cover_operators_transposes_keywords_and_swaps():
    descriptions = [d for d, _ in mutations_of_line("    return grad * b.T, grad.sum(axis=0, keepdims=True)")]
    text = "\n".join(descriptions)
    assert "'*' -> '/'" in text
    assert "drop '.T'" in text
    assert "drop 'keepdims=True' at col" in text
    assert "True -> False" in text
    assert "swap the returned pair" in text
    assert "sum -> mean" in text


def test_statement_drop_keeps_indentation():
    pairs = dict(mutations_of_line("        total += g"))
    assert pairs["drop the statement"] == "        pass"
    assert pairs["'+=' -> '=' at col 6"] == "        total = g"


def test_generate_mutants_on_a_toy_package_all_compile_and_differ(tmp_path: Path):
    pkg = tmp_path / "toy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "ops.py").write_text(TOY)
    mutants = generate_mutants(tmp_path, "toy")
    assert mutants, "expected mutants for the fenced lines"
    original = TOY.splitlines()
    for m in mutants:
        assert m.file == "toy/ops.py" and m.line in (5, 7)
        assert m.new_line != original[m.line - 1]
        patched = original[: m.line - 1] + [m.new_line] + original[m.line :]
        compile("\n".join(patched), "x", "exec")  # every mutant is valid Python
    assert len({m.key for m in mutants}) == len(mutants)


def test_equivalent_file_parsing(tmp_path: Path):
    f = tmp_path / "eq.txt"
    f.write_text("# header\nmytorch/a.py:3:drop '.T'  # a 1-D operand: .T is a no-op\n")
    assert load_equivalent(f) == {"mytorch/a.py:3:drop '.T'": "a 1-D operand: .T is a no-op"}


@pytest.mark.parametrize("returncode, timed_out", [(1, False), (0, True)])
def test_a_failed_or_hung_grader_is_not_counted_as_a_kill(tmp_path: Path, monkeypatch, returncode, timed_out):
    import math
    import subprocess

    from tools import mutants

    (tmp_path / "ref" / "toy").mkdir(parents=True)
    (tmp_path / "ref" / "toy" / "__init__.py").write_text("x = 1\n")
    toy = dataclasses.replace(ASSIGNMENT, name="toy", package="toy", reference_root=tmp_path / "ref")

    def fake_run(argv, **kwargs):  # the grader failed, yet left its all-zero report behind
        Path(argv[argv.index("--results") + 1]).write_text('{"score": 0}')
        if timed_out:
            raise subprocess.TimeoutExpired(argv, kwargs.get("timeout"))
        return subprocess.CompletedProcess(argv, returncode)

    monkeypatch.setattr(mutants.subprocess, "run", fake_run)
    mutant = mutants.Mutant("toy/__init__.py", 1, "constant 1 -> 2", "x = 2")
    assert math.isnan(mutants.grade_mutant(mutant, toy, "toy", slot=40))


def test_reference_mutants_have_unique_keys_and_every_reviewed_entry_still_exists():
    """Editing the reference must not silently orphan a reviewed equivalent mutant (make mutants would fail)."""
    mutants = generate_mutants(ASSIGNMENT.reference_root, ASSIGNMENT.package)
    keys = {m.key for m in mutants}
    assert len(keys) == len(mutants), "two mutants share a key: the equivalent file could not tell them apart"
    reviewed = load_equivalent(assignments.folder(ASSIGNMENT) / EQUIVALENT_FILE)
    assert reviewed, "hw1p1 keeps its reviewed equivalent mutants beside assignment.py"
    orphans = sorted(set(reviewed) - keys)
    assert not orphans, f"equivalent_mutants.txt names mutants that no longer exist (re-review them): {orphans}"
