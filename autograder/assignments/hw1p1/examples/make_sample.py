"""Build examples/sample_handin/: the partly finished student handin that `make grade` grades by default.

The sample is the reference library as a student would hand it in (no solution fences), except:
- the tasks in STUBBED are left exactly as the handout has them (one `raise NotImplementedError`);
- the student bugs in PLANTED are planted, each a string replacement that must match exactly once
  (generation stops otherwise, so a change to the reference cannot silently drop a bug).

Intended grade: full marks everywhere except task 6.1 and 7.2 (0, stubbed), 2.3 and 3.1 (partial).

    python -m autograder.assignments.hw1p1.examples.make_sample            # rewrite sample_handin/
    python -m autograder.assignments.hw1p1.examples.make_sample --check    # exit 1 if it is stale

tests/test_sample_handin.py proves the committed folder equals a fresh generation and grades it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.framework.handoutgen import BEGIN_RE, END_RE, MESSAGE_RE, strip_fences, tree_files

HERE = Path(__file__).resolve().parent
SAMPLE_DIR = HERE / "sample_handin"

# Tasks the student has not started: their fences become the handout's stubs.
STUBBED: tuple[str, ...] = ("6.1", "7.2")


@dataclass(frozen=True)
class Bug:
    """A planted student bug: in `path` (relative to the handin root), `old` becomes `new`, exactly once."""

    task: str
    path: str
    old: str
    new: str
    why: str  # what the student got wrong (documentation only)


PLANTED: tuple[Bug, ...] = (
    Bug(
        task="2.3",
        path="mytorch/ops/elementwise.py",
        old="unbroadcast(-grad_output * a / (b * b), b.shape)",
        new="unbroadcast(grad_output * a / (b * b), b.shape)",
        why="Div.backward forgets the minus sign of d(a/b)/db = -a/b**2 (Mul and Div share task 2.3)",
    ),
    Bug(
        task="3.1",
        path="mytorch/ops/reduce.py",
        # The `g = ...` line alone occurs in Sum, Mean and Max; with the return it is Sum's only.
        old=("        g = grad_output if self.keepdims else np.expand_dims(grad_output, self.axes)\n"
             "        return (np.broadcast_to(g, self.in_shape),)\n"),
        new="        return (np.broadcast_to(grad_output, self.in_shape),)\n",
        why=("Sum.backward broadcasts without re-inserting the reduced axes: right for axis=None, keepdims "
             "or a leading axis, wrong (or a broadcast error) otherwise; Mean, in the same task, is correct"),
    ),
)


class SampleError(Exception):
    """The sample cannot be generated as documented (a bug's pattern or a stubbed task is missing)."""


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
            task = MESSAGE_RE.match(BEGIN_RE.match(block[0]).group("rest").strip()).group("task")
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


def plant(files: dict[str, str], bugs: Sequence[Bug]) -> dict[str, str]:
    """Apply each bug's replacement; SampleError unless its `old` text occurs exactly once in its file."""
    files = dict(files)
    for bug in bugs:
        if bug.path not in files:
            raise SampleError(f"bug for task {bug.task}: {bug.path} is not in the package")
        count = files[bug.path].count(bug.old)
        if count != 1:
            raise SampleError(f"bug for task {bug.task}: the text to replace occurs {count} times in {bug.path} "
                              f"(must be exactly once; did the reference change?): {bug.old!r}")
        files[bug.path] = files[bug.path].replace(bug.old, bug.new)
    return files


def sample_files(reference_root: Path = ASSIGNMENT.reference_root, package: str = ASSIGNMENT.package,
                 stubbed: Sequence[str] = STUBBED, bugs: Sequence[Bug] = PLANTED) -> dict[str, bytes]:
    """Handin-relative path -> content of every file of the sample (pure: reads the reference only)."""
    texts: dict[str, str] = {}
    binaries: dict[str, bytes] = {}
    met: set[str] = set()
    for name, data in tree_files(reference_root / package).items():
        rel = f"{package}/{name}"
        if rel.endswith(".py"):
            text = data.decode("utf-8").replace("\r\n", "\n")
            texts[rel], found = keep_or_stub(text, rel, stubbed)
            met |= found
        else:
            binaries[rel] = data
    missing = sorted(set(stubbed) - met)
    if missing:
        raise SampleError(f"no solution fence for stubbed task(s) {', '.join(missing)} in {reference_root / package}")
    texts = plant(texts, bugs)
    for rel, text in texts.items():
        compile(text, rel, "exec")  # a bad replacement must fail here, not in the grader
    return {**binaries, **{rel: text.encode("utf-8") for rel, text in texts.items()}}


def write_sample(out_dir: Path = SAMPLE_DIR) -> list[str]:
    """Replace `out_dir` by a fresh sample (written beside it first, so a failure leaves the old one)."""
    files = sample_files()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".sample-", dir=out_dir.parent))
    try:
        for rel, data in sorted(files.items()):
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_bytes(data)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(files)


def stale_files(out_dir: Path = SAMPLE_DIR) -> list[str]:
    """Paths that differ between `out_dir` and a fresh generation (missing, extra or changed)."""
    fresh = sample_files()
    on_disk = tree_files(out_dir)
    return sorted(rel for rel in fresh.keys() | on_disk.keys() if fresh.get(rel) != on_disk.get(rel))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the sample, or with --check report whether the committed one is stale."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="the sample folder (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="exit 1, naming the files, if the sample is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.out)
        for rel in stale:
            print(f"stale: {rel}")
        return 1 if stale else 0
    written = write_sample(args.out)
    print(f"wrote {args.out} ({len(written)} files): stubbed task(s) {', '.join(STUBBED)}; "
          f"bugs in task(s) {', '.join(b.task for b in PLANTED)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
