"""The sample handin that `make grade` grades when no SUBMISSION is given: a partly finished student handin.

The sample is the assignment's reference package as a student would hand it in (no solution fences),
except that
- the tasks in the assignment's `SAMPLE_STUBBED` are left exactly as the handout has them;
- the bugs in its `SAMPLE_BUGS` are planted (`tools.planted`: each patch must apply exactly once, so a
  change to the reference cannot silently drop a bug).
Both are plain data in the assignment's `devtools.py`; an assignment without them gets the bare
handout package (every task stubbed: no reference code at all). The sample is generated when needed,
never committed: into `build/sample/<assignment>/` (gitignored) by `make grade`, into a temporary
folder by the tests. It is in no bundle: it holds the reference code of every finished task.

Its grade is predicted by its recipe: 0 in the stubbed tasks, partial credit in the tasks with a planted
bug, full marks elsewhere. `--verify` grades it and compares (tests/test_sample_handin.py does too).

    python -m tools.make_sample --assignment hw1p1            # writes build/sample/hw1p1/
    python -m tools.make_sample --assignment hw1p1 --verify   # ... then grades it against the prediction
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from autograder.cli.common import assignment_option
from autograder.framework.handoutgen import BEGIN_RE, END_RE, MESSAGE_RE, strip_fences, tree_files
from autograder.framework.rubric import Assignment
from tools import assignment as assignments
from tools.planted import Bug, Patch, patch_files

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = REPO_ROOT / "build" / "sample"


class SampleError(Exception):
    """The sample cannot be generated as its recipe says (a stubbed task has no fence, a bug does not apply)."""


@dataclass(frozen=True)
class Recipe:
    """How a sample is made: the tasks left as stubs and the bugs planted in the others."""

    stubbed: tuple[str, ...]
    bugs: tuple[Bug, ...]


def recipe(assignment: Assignment) -> Recipe:
    """The assignment's sample recipe from its devtools.py; the bare handout (all stubbed) when it has none."""
    data = assignments.devtools(assignment)
    if "SAMPLE_STUBBED" not in data and "SAMPLE_BUGS" not in data:
        return Recipe(tuple(t.id for t in assignment.tasks), ())
    bugs = tuple(
        Bug(task=b["task"], patches=(Patch(b["file"], b["old"], b["new"]),), why=b["why"])
        for b in data.get("SAMPLE_BUGS", ())
    )
    return Recipe(tuple(data.get("SAMPLE_STUBBED", ())), bugs)


def default_out(assignment: Assignment) -> Path:
    """Where `make grade` writes the sample: build/sample/<assignment>/ in the checkout (gitignored)."""
    return BUILD_DIR / assignment.name


def keep_or_stub(text: str, rel: str, stubbed: Sequence[str]) -> tuple[str, set[str]]:
    """`text` with each fence of a task in `stubbed` replaced by the handout's stub, other fences by their code.

    Returns the new text and the stubbed task ids met. Malformed fences raise handoutgen's HandoutError.
    """
    strip_fences(text, rel)  # validates every marker with the handout generator's rules
    out: list[str] = []
    block: list[str] | None = None
    met: set[str] = set()
    for line in text.splitlines():
        if block is None and BEGIN_RE.match(line):
            block = [line]
        elif block is not None and END_RE.match(line):
            begin = BEGIN_RE.match(block[0])
            message = MESSAGE_RE.match(begin.group("rest").strip()) if begin else None
            task = message.group("task") if message else None
            if task in stubbed:
                # The stub comes from the generator itself, so it is byte for byte what the handout has.
                out += strip_fences("\n".join(block + [line]) + "\n", rel)[0].splitlines()
                met.add(task)
            else:
                out += block[1:]  # the student wrote the reference's code (markers dropped)
            block = None
        elif block is not None:
            block.append(line)
        else:
            out.append(line)
    return "\n".join(out) + "\n", met


def sample_files(
    assignment: Assignment, stubbed: Sequence[str] | None = None, bugs: Sequence[Bug] | None = None
) -> dict[str, bytes]:
    """Handin-relative path -> content of every file of the sample (pure: reads the reference only).

    `stubbed` and `bugs` default to the assignment's recipe.
    """
    if stubbed is None or bugs is None:
        default = recipe(assignment)
        stubbed = default.stubbed if stubbed is None else stubbed
        bugs = default.bugs if bugs is None else bugs
    package = assignment.package
    texts: dict[str, str] = {}  # package-relative, as patches name files
    binaries: dict[str, bytes] = {}
    met: set[str] = set()
    for name, data in tree_files(assignment.reference_root / package).items():
        if name.endswith(".py"):
            text = data.decode("utf-8").replace("\r\n", "\n")
            texts[name], found = keep_or_stub(text, f"{package}/{name}", stubbed)
            met |= found
        else:
            binaries[name] = data
    missing = sorted(set(stubbed) - met)
    if missing:
        raise SampleError(
            f"no solution fence for stubbed task(s) {', '.join(missing)} in {assignment.reference_root / package}"
        )
    for bug in bugs:
        try:
            texts = patch_files(texts, bug.patches)
        except ValueError as exc:
            raise SampleError(f"bug for task {bug.task}: {exc}") from exc
    for name, text in texts.items():
        compile(text, f"{package}/{name}", "exec")  # a bad replacement must fail here, not in the grader
    files = {**binaries, **{name: text.encode("utf-8") for name, text in texts.items()}}
    return {f"{package}/{name}": data for name, data in sorted(files.items())}


def write_tree(files: dict[str, bytes], out_dir: Path) -> None:
    """Replace `out_dir` by exactly `files` (written beside it first, so a failure leaves the old one)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".sample-", dir=out_dir.parent))
    try:
        staging.chmod(0o755)  # like any folder the TA makes (mkdtemp's 0700 would differ from `make grade`'s)
        for rel, data in files.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_bytes(data)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_sample(
    assignment: Assignment, out_dir: Path, stubbed: Sequence[str] | None = None, bugs: Sequence[Bug] | None = None
) -> Path:
    """Generate the sample (the assignment's recipe unless given) into `out_dir`; return `out_dir`."""
    write_tree(sample_files(assignment, stubbed, bugs), out_dir)
    return out_dir


def prediction_problems(assignment: Assignment, outcome: Any, made: Recipe) -> list[str]:
    """What in a grade of the sample contradicts its recipe: a stubbed task above 0, a task with a planted
    bug without partial credit, a finished task below full marks, or any grader failure."""
    if outcome.grader_failed or outcome.internal_errors:
        return [
            "the grader failed on the sample handin:\n    "
            + "\n    ".join(d.strip().splitlines()[-1] for d in outcome.internal_errors)
        ]
    stubbed = set(made.stubbed)
    buggy = {b.task for b in made.bugs} - stubbed
    problems = []
    for task in assignment.tasks:
        got = outcome.tasks.get(task.id, 0.0)
        if task.id in stubbed and got != 0:
            problems.append(f"task {task.id} is stubbed but scores {got:g}")
        elif task.id in buggy and not 0 < got < task.points:
            problems.append(
                f"task {task.id} has a planted bug but scores {got:g}/{task.points:g} (expected partial credit)"
            )
        elif task.id not in stubbed | buggy and got != task.points:
            problems.append(f"task {task.id} is finished but scores {got:g}/{task.points:g}")
    return problems


def verify(assignment: Assignment, sample_dir: Path, slot: int = 0) -> list[str]:
    """Grade the sample in `sample_dir` (made from the assignment's recipe); the problems with its prediction."""
    from autograder.framework.grade import grade_submission

    with tempfile.TemporaryDirectory(prefix="ag-sample-") as tmp:
        outcome = grade_submission(sample_dir, assignment, Path(tmp) / "results.json", slot=slot, quiet=True)
    return prediction_problems(assignment, outcome, recipe(assignment))


@click.command()
@assignment_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the sample (default: build/sample/<assignment>/).",
)
@click.option(
    "--verify",
    "check",
    is_flag=True,
    help="Also grade it: exit 1 unless it scores what its stubs and planted bugs predict.",
)
@click.option("--slot", type=int, default=0, show_default=True, help="Sandbox slot for --verify's grade.")
def main(assignment: Assignment, out: Path | None, check: bool, slot: int) -> None:
    """Write the assignment's sample handin (and with --verify, check its grade)."""
    made = recipe(assignment)
    out = out or default_out(assignment)
    try:
        write_sample(assignment, out)
    except SampleError as exc:
        raise click.ClickException(str(exc)) from exc
    bugs = ", ".join(b.task for b in made.bugs) or "none"
    click.echo(
        f"wrote the sample handin {out}: stubbed task(s) {', '.join(made.stubbed) or 'none'}; "
        f"planted bugs in task(s) {bugs}",
        err=True,
    )
    if check:
        problems = verify(assignment, out, slot)
        for p in problems:
            click.echo("  " + p, err=True)
        click.echo("the sample scores what its recipe predicts" if not problems else "sample check FAILED", err=True)
        sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
