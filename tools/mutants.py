"""`make mutants`: plant small bugs in every fenced line of the reference and check the grader notices.

A mutant is the reference with ONE token-level change inside a `# BEGIN SOLUTION` fence (an operator
swapped, a constant changed, a `.T` or an axis keyword dropped, `+=` made `=`, a statement dropped,
two returned values swapped). Each mutant is graded like a real handin; it is "killed" when it loses
points. Survivors are either holes in the tests or equivalent mutants (no behaviour change); the
reviewed equivalent ones are listed with a reason in the assignment's `equivalent_mutants.txt` (beside
its assignment.py). Works for any assignment: it reads the reference root, the package and the fences
through the `Assignment` object.

A mutant is not a `tools.planted.Bug`: it is generated, addressed by line number (a line may repeat in a
file), and reviewed only when it survives; it shares the planted bugs' copy of the reference.

    python -m tools.mutants --assignment hw1p1 --jobs 2            # all of them (make mutants)
    python -m tools.mutants --assignment hw1p1 --only ops/reduce.py --limit 20
"""

from __future__ import annotations

import io
import json
import queue
import re
import subprocess
import sys
import tempfile
import tokenize
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import click

from autograder.cli.common import assignment_option
from autograder.framework.handoutgen import strip_fences
from autograder.framework.regrade import grade_command_argv
from autograder.framework.rubric import Assignment
from tools import assignment as assignments
from tools.planted import patched_reference

EQUIVALENT_FILE = "equivalent_mutants.txt"

# Operator swaps that keep the code valid Python but change its meaning.
OP_SWAPS = {
    "+": "-",
    "-": "+",
    "*": "/",
    "/": "*",
    "@": "*",
    "+=": "=",
    "-=": "+=",
    "**": "*",
    "<": ">",
    ">": "<",
    "<=": ">=",
    ">=": "<=",
    "==": "!=",
    "!=": "==",
}
NAME_SWAPS = {
    "True": "False",
    "False": "True",
    "sum": "mean",
    "mean": "sum",
    "max": "min",
    "min": "max",
    "and": "or",
    "or": "and",
    "None": "0",
}


@dataclass(frozen=True)
class Mutant:
    """One planted bug: the file, the 1-based line, a description and the new line text."""

    file: str  # relative to the reference root
    line: int
    description: str
    new_line: str
    anchor: str = ""  # the original line's code in backquotes, "#n" for its n-th repeat in the file

    @property
    def key(self) -> str:
        """The id used in the equivalent-mutants file: names the code, not the line number, so that
        editing a docstring above a fence does not orphan the reviewed entries."""
        return f"{self.file}:{self.anchor or self.line}:{self.description}"


def fenced_lines(source: str, path: str = "<source>") -> Iterator[int]:
    """1-based numbers of the code lines strictly inside solution fences (the handout generator's parser)."""
    lines = source.splitlines()
    for fence in strip_fences(source, path)[1]:
        for number in range(fence.begin + 1, fence.end):
            stripped = lines[number - 1].strip()
            if stripped and not stripped.startswith("#"):
                yield number


def _code_only(line: str) -> str:
    """The line without indentation and without a trailing comment (comments are not part of a mutant's id)."""
    body = line.strip()
    comments = [tok.start[1] for tok in _line_tokens(line) if tok.type == tokenize.COMMENT]
    return body[: comments[0]].rstrip() if comments else body


def _line_tokens(line: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []


def _top_level_split(expr: str) -> list[str]:
    """Split an expression on commas that are not inside brackets."""
    parts, depth, current = [], 0, ""
    for char in expr:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return parts + [current.strip()] if current.strip() else parts


def _splice(line: str, indent: str, start: int, end: int, text: str) -> str:
    body = line.strip()
    return indent + body[:start] + text + body[end:]


def mutations_of_line(line: str) -> Iterator[tuple[str, str]]:
    """(description, mutated line) pairs for one source line; all keep the indentation."""
    indent = line[: len(line) - len(line.lstrip())]
    body = line.strip()
    tokens = _line_tokens(line)
    for tok in tokens:
        (_, c0), (_, c1) = tok.start, tok.end
        if tok.type == tokenize.OP and tok.string in OP_SWAPS:
            # Unary minus and `**` handled too: the compile check drops invalid results.
            yield (
                f"'{tok.string}' -> '{OP_SWAPS[tok.string]}' at col {c0}",
                _splice(line, indent, c0, c1, OP_SWAPS[tok.string]),
            )
        elif tok.type == tokenize.NAME and tok.string in NAME_SWAPS:
            yield (
                f"{tok.string} -> {NAME_SWAPS[tok.string]} at col {c0}",
                _splice(line, indent, c0, c1, NAME_SWAPS[tok.string]),
            )
        elif tok.type == tokenize.NUMBER:
            new = "1" if tok.string in ("0", "0.0") else ("2" if tok.string in ("1", "1.0") else f"({tok.string} + 1)")
            yield f"constant {tok.string} -> {new} at col {c0}", _splice(line, indent, c0, c1, new)
    # Drop a transpose.
    for match in re.finditer(r"\.T\b", body):
        yield f"drop '.T' at col {match.start()}", indent + body[: match.start()] + body[match.end() :]
    # Drop a keyword argument such as axis=..., keepdims=True, with the comma that joins it.
    for match in re.finditer(r"\b(axis|keepdims|axes)\s*=\s*[^,()]+", body):
        start, end = match.start(), match.end()
        before = body[:start].rstrip()
        if before.endswith(","):
            start = len(before) - 1
        elif body[end:].lstrip().startswith(","):
            end = len(body) - len(body[end:].lstrip()) + 1
            end += len(body[end:]) - len(body[end:].lstrip())
        yield f"drop '{match.group(0).strip()}' at col {match.start()}", indent + body[:start] + body[end:]
    # Swap the two values of `return a, b`.
    if body.startswith("return "):
        parts = _top_level_split(body[len("return ") :])
        if len(parts) == 2:
            yield "swap the returned pair", f"{indent}return {parts[1]}, {parts[0]}"
    # Drop the statement (not a block header, not a bare return).
    if not body.endswith(":") and not body.startswith(("return", "raise", "else", "elif")):
        yield "drop the statement", f"{indent}pass"


def generate_mutants(reference_root: Path, package: str) -> list[Mutant]:
    """Every compiling single-token mutant of every fenced line of the reference package."""
    mutants: list[Mutant] = []
    for path in sorted((reference_root / package).rglob("*.py")):
        rel = str(path.relative_to(reference_root))
        source = path.read_text()
        lines = source.splitlines()
        repeats: dict[str, int] = {}
        for number in fenced_lines(source, rel):
            code = _code_only(lines[number - 1])
            repeats[code] = repeats.get(code, 0) + 1
            anchor = f"`{code}`" + (f"#{repeats[code]}" if repeats[code] > 1 else "")
            seen: set[str] = set()
            for description, new_line in mutations_of_line(lines[number - 1]):
                if new_line in seen or new_line == lines[number - 1]:
                    continue
                seen.add(new_line)
                candidate = lines[: number - 1] + [new_line] + lines[number:]
                try:
                    with warnings.catch_warnings():  # `x is 0` from `None -> 0` compiles, with a warning
                        warnings.simplefilter("ignore", SyntaxWarning)
                        compile("\n".join(candidate) + "\n", rel, "exec")
                except SyntaxError:
                    continue
                mutants.append(Mutant(rel, number, description, new_line, anchor))
    return mutants


def _apply(mutant: Mutant, assignment: Assignment, dest: Path) -> Path:
    """Copy the reference package into dest with the mutant applied; return the submission root."""
    patched_reference(assignment, (), dest)
    target = dest / mutant.file
    lines = target.read_text().splitlines()
    lines[mutant.line - 1] = mutant.new_line
    target.write_text("\n".join(lines) + "\n")
    return dest


def grade_mutant(mutant: Mutant, assignment: Assignment, assignment_arg: str, slot: int) -> float:
    """Grade one mutant in a fresh grader process; return its score, NaN when the grader itself failed.

    A failed grader still writes an all-zero report (and exits 1): that zero is not a kill, so it
    is NaN here, shown as a survivor to investigate. So is a grader that runs out of time.
    `assignment_arg` is how the grader's --assignment names it (a registered name or a folder path).
    """
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        root = _apply(mutant, assignment, Path(tmp) / "sub")
        results = Path(tmp) / "results.json"
        try:
            done = subprocess.run(
                grade_command_argv(assignment_arg)(root, results, slot),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return float("nan")
        if done.returncode != 0:
            return float("nan")
        try:
            return float(json.loads(results.read_text())["score"])
        except (OSError, ValueError, KeyError, TypeError):
            return float("nan")


def load_equivalent(path: Path) -> dict[str, str]:
    """Reviewed equivalent mutants: `key  # reason` per line."""
    if not path.exists():
        return {}
    out = {}
    for raw in path.read_text().splitlines():
        if raw.strip() and not raw.startswith("#"):
            key, _, reason = raw.partition("  # ")
            out[key.strip()] = reason.strip()
    return out


@click.command()
@assignment_option
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True, help="Mutants graded at once.")
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="FILE",
    help="Mutate only this package file (relative to the package; repeatable). Example: --only ops/reduce.py",
)
@click.option("--limit", default=0, help="Grade only the first N mutants (0: all).")
@click.option("--list-only", is_flag=True, help="Print the mutants without grading them.")
@click.option(
    "--slot-base",
    default=0,
    show_default=True,
    help="First sandbox slot; job i uses slots base .. base + jobs - 1 (keep clear of other graders' slots).",
)
def main(assignment: Assignment, jobs: int, only: tuple[str, ...], limit: int, list_only: bool, slot_base: int) -> None:
    """Mutate every fenced line of the reference, grade each mutant, print the kill rate and survivors."""
    assignment_arg = assignment.source or assignment.name  # what each grader subprocess is given (as the regrade does)
    mutants = generate_mutants(assignment.reference_root, assignment.package)
    if only:
        unknown = sorted(set(only) - {m.file.split("/", 1)[1] for m in mutants})
        if unknown:
            raise click.BadParameter(f"no fenced code in {', '.join(unknown)}", param_hint="--only")
        mutants = [m for m in mutants if m.file.split("/", 1)[1] in only]
    if limit:
        mutants = mutants[:limit]
    if list_only:
        for m in mutants:
            click.echo(f"{m.key}  (line {m.line})\n    {m.new_line.strip()}")
        click.echo(f"{len(mutants)} mutants")
        return
    equivalent = load_equivalent(assignments.folder(assignment) / EQUIVALENT_FILE)
    max_score = assignment.max_score
    survivors: list[Mutant] = []
    with (
        ThreadPoolExecutor(max_workers=jobs) as pool,
        click.progressbar(length=len(mutants), label="grading mutants") as bar,
    ):
        free_slots: queue.Queue[int] = queue.Queue()
        for slot in range(slot_base, slot_base + jobs):
            free_slots.put(slot)

        def grade_on_free_slot(mutant: Mutant) -> float:
            # One slot per running job: `i % jobs` could hand a busy slot to a second job.
            slot = free_slots.get()
            try:
                return grade_mutant(mutant, assignment, assignment_arg, slot)
            finally:
                free_slots.put(slot)

        futures = [pool.submit(grade_on_free_slot, m) for m in mutants]
        for mutant, future in zip(mutants, futures):
            score = future.result()
            if not score < max_score:  # also NaN: a grader failure needs a look
                survivors.append(mutant)
            bar.update(1)
    unexplained = [m for m in survivors if m.key not in equivalent]
    killed = len(mutants) - len(survivors)
    rate = killed / max(len(mutants), 1)
    rate_excluding = killed / max(len(mutants) - (len(survivors) - len(unexplained)), 1)
    click.echo(
        f"\n{killed}/{len(mutants)} mutants killed ({rate:.1%}); "
        f"{rate_excluding:.1%} excluding {len(survivors) - len(unexplained)} reviewed equivalent ones"
    )
    for m in survivors:
        reason = equivalent.get(m.key)
        click.echo(
            f"  {'equivalent' if reason else 'SURVIVED  '} {m.key}  (line {m.line})\n      {m.new_line.strip()}"
            + (f"\n      reason: {reason}" if reason else "")
        )
    sys.exit(0 if rate_excluding >= 0.97 else 1)


if __name__ == "__main__":
    main()
