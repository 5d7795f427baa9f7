"""What course staff ship: `autograder handout`, `gradescope`, `autolab` and `prairielearn`.

`handout` writes handouts/<assignment>/ (a registered assignment) or <folder>/handout/ (an assignment
folder outside this repository), and keeps the repository README's table of assignments current.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

import autograder
from autograder import assignments
from autograder.cli.common import assignment_option
from autograder.framework.gradescope_zip import build_gradescope_zip
from autograder.framework.handoutgen import (
    HandoutError,
    diff_trees,
    digest,
    fill_between,
    generate_handout,
    replace_tree,
    tree_files,
    write_zip,
)
from autograder.framework.platforms import PL_IMAGE, PL_TIMEOUT, build_autolab, build_prairielearn
from autograder.framework.rubric import Assignment

PROJECT_ROOT = Path(autograder.__file__).resolve().parent.parent
README = PROJECT_ROOT / "README.md"
HANDOUTS = "handouts"  # handouts/<assignment>/ at the project root
TABLE_START, TABLE_END = "<!-- assignments:start -->", "<!-- assignments:end -->"


def registered(assignment: Assignment) -> bool:
    """Whether the assignment is one of this repository's (not a folder elsewhere)."""
    return assignment.name in assignments.names() and assignment.source in ("", assignment.name)


def default_handout_dir(assignment: Assignment) -> Path:
    """handouts/<name>/ at the project root for a registered assignment; <its folder>/handout/ otherwise."""
    if registered(assignment):
        return PROJECT_ROOT / HANDOUTS / assignment.name
    return Path(assignment.source or assignment.scenarios_file.parent) / "handout"


def assignments_table() -> str:
    """The repository README's Markdown table: one row per registered assignment."""
    rows = ["| Assignment | Package | Tasks | Points | Handout |", "|---|---|---:|---:|---|"]
    for name in assignments.names():
        a = assignments.load(name)
        rows.append(f"| `{name}` | `{a.package}` | {len(a.tasks)} | {a.max_score:g} | `{HANDOUTS}/{name}/` |")
    return "\n".join(rows)


def sync_readme_table(readme: Path = README, *, check_only: bool = False) -> bool:
    """Fill the table of assignments in `readme` between its markers; True when it was (or would be) changed."""
    if not readme.is_file():
        return False
    old = readme.read_text(encoding="utf-8")
    new = fill_between(old, TABLE_START, TABLE_END, assignments_table(), str(readme))
    if new == old:
        return False
    if not check_only:
        readme.write_text(new, encoding="utf-8", newline="\n")
    return True


@click.command(
    "handout",
    epilog="""
\b
Examples:
  autograder handout --assignment hw1p1                  # regenerate handouts/hw1p1/
  autograder handout --assignment hw1p1 --check-only     # exit 1 if the committed handout drifted
  autograder handout --assignment hw1p1 --zip dist/hw1p1/handout.zip
  autograder handout --assignment ~/course/lab3 --out /tmp/lab3-handout
""",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the handout goes (default: handouts/<assignment>/ for a registered assignment, "
    "<folder>/handout/ for one outside this repository). Example: --out /tmp/handout",
)
@click.option(
    "--check-only",
    is_flag=True,
    help="Exit 1, naming the files, if the handout differs from a fresh one. Example: --check-only",
)
@click.option(
    "--zip",
    "zip_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a deterministic zip of a fresh handout to this path (and nothing else). "
    "Example: --zip dist/hw1p1/handout.zip",
)
@assignment_option
def handout_command(out_dir: Path | None, check_only: bool, zip_path: Path | None, assignment: Assignment) -> None:
    """Generate the student handout from the reference (fences become NotImplementedError stubs)."""
    out_dir = out_dir or default_handout_dir(assignment)
    readme = README if registered(assignment) else None  # the repository's table lists registered ones only
    try:
        with tempfile.TemporaryDirectory(prefix="handout-") as tmp:
            fresh = Path(tmp) / "handout"
            generate_handout(assignment, fresh)
            if zip_path is not None:
                write_zip(fresh, zip_path)
                click.echo(f"wrote {zip_path} ({zip_path.stat().st_size:,} bytes, tree {digest(fresh)[:12]})")
                return
            if check_only:
                differing = diff_trees(fresh, out_dir) if out_dir.is_dir() else ["(the whole handout is missing)"]
                if readme and sync_readme_table(readme, check_only=True):
                    differing.append(f"{readme} (table of assignments)")
                if differing:
                    click.echo(f"{out_dir} differs from a fresh generation; run `make handout` and commit:", err=True)
                    for rel in differing:
                        click.echo(f"  {rel}", err=True)
                    sys.exit(1)
                click.echo(f"{out_dir} is up to date ({len(tree_files(fresh))} files)")
                return
            replace_tree(fresh, out_dir, PROJECT_ROOT)
            if readme and sync_readme_table(readme):
                click.echo(f"updated the table of assignments in {readme}")
            click.echo(f"wrote {out_dir} ({len(tree_files(out_dir))} files, tree {digest(out_dir)[:12]})")
    except HandoutError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@click.command(
    "gradescope",
    epilog="""
\b
Examples:
  autograder gradescope --assignment hw1p1 --out dist/hw1p1/autograder.zip   # make gradescope runs check first
""",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the zip [default: dist/<assignment>/autograder.zip]. Example: --out dist/hw1p1/autograder.zip",
)
@assignment_option
def gradescope_command(out: Path | None, assignment: Assignment) -> None:
    """Build the zip to upload as the Gradescope autograder (setup.sh and run_autograder at its root)."""
    out = out or Path("dist") / assignment.name / "autograder.zip"
    try:
        names = build_gradescope_zip(out, assignment)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"wrote {out} ({len(names)} files, {out.stat().st_size / 1024:.0f} KiB); "
        f"upload it under Configure Autograder > Zip file upload"
    )


@click.command(
    "autolab",
    epilog="""
\b
Examples:
  autograder autolab --assignment hw1p1 --out dist/hw1p1/autolab   # make autolab runs `autograder check` first
""",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for autograde.tar, autograde-Makefile, Dockerfile and README.md "
    "[default: dist/<assignment>/autolab]. Example: --out dist/hw1p1/autolab",
)
@assignment_option
def autolab_command(out: Path | None, assignment: Assignment) -> None:
    """Build the Autolab autograder: autograde.tar + autograde-Makefile (last line always the scores)."""
    try:
        paths = build_autolab(out or Path("dist") / assignment.name / "autolab", assignment)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for path in paths:
        click.echo(f"wrote {path}")


@click.command(
    "prairielearn",
    epilog="""
\b
Examples:
  autograder prairielearn --assignment hw1p1 --out dist/hw1p1/prairielearn
  autograder prairielearn --assignment hw1p1 --image mycourse/mytorch-grader:2026 --timeout 240   # a Docker Hub name
""",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the course fragment (questions/, serverFilesCourse/, Dockerfile) "
    "[default: dist/<assignment>/prairielearn]. Example: --out dist/pl",
)
@assignment_option
@click.option(
    "--image",
    default=PL_IMAGE,
    show_default=True,
    help="Docker image PrairieLearn grades in ({package}: the assignment's package): build it from the "
    "Dockerfile and push it to Docker Hub (PrairieLearn pulls only from there) under your namespace. "
    "Example: --image mycourse/mytorch-grader:1",
)
@click.option(
    "--timeout",
    type=click.IntRange(1, 600),
    default=PL_TIMEOUT,
    show_default=True,
    help="Seconds before PrairieLearn kills the grading job (at most 600). Example: --timeout 240",
)
def prairielearn_command(out: Path | None, assignment: Assignment, image: str, timeout: int) -> None:
    """Build the PrairieLearn externally graded question and its serverFilesCourse grader."""
    out = out or Path("dist") / assignment.name / "prairielearn"
    try:
        files = build_prairielearn(out, assignment, image, timeout)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {len(files)} files under {out} (question: {files[-4].parent})")
