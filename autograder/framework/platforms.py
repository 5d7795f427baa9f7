"""Deployable graders for Autolab and PrairieLearn (the Gradescope zip lives in gradescope_zip.py).

`autograder autolab --out dist/autolab` writes what an Autolab assessment needs
(autolab.github.io/docs/lab/, "Writing Autograders"; Tango's README): `autograde.tar` (the grader,
the reference and `grader/run.sh`) and `autograde-Makefile`, which Autolab copies as `Makefile`
beside the tar and the handin and runs with `make` as a non-root user. Its last output line is
always the `{"scores": {...}}` autoresult, zeros with a note when the grader fails.

`autograder prairielearn --out dist/prairielearn` writes a course fragment for an externally graded
question (PrairieLearn/PrairieLearn docs/externalGrading.md): `questions/<assignment>/info.json`
(`gradingMethod: External`, `externalGradingOptions` with the image, `serverFilesCourse` and the
entrypoint), `question.html` (a `pl-file-upload` of handin.zip) and
`serverFilesCourse/<assignment>_autograder/` (the grader and its `run.sh` entrypoint).

Both come with a `Dockerfile` stating the image requirements (Python 3.10+ and the grader's runtime
dependencies, read from the installed package's metadata) and a README.
"""

from __future__ import annotations

import calendar
import io
import json
import tarfile
import uuid
from importlib import metadata
from pathlib import Path

import autograder
from autograder.framework.gradescope_zip import project_entries
from autograder.framework.rubric import Assignment
from autograder.framework.zips import ZIP_EPOCH

PACKAGE_DIR = Path(autograder.__file__).resolve().parent
AUTOLAB_TEMPLATES = PACKAGE_DIR / "autolab"
PL_TEMPLATES = PACKAGE_DIR / "prairielearn"
PL_TIMEOUT = 300  # seconds; PrairieLearn allows at most 600
PL_IMAGE = "{package}-autograder:latest"  # default image name, built from the Dockerfile written beside the question
_EPOCH = calendar.timegm((*ZIP_EPOCH, 0, 0, 0))  # as in the Gradescope zip: same inputs, same bytes


def runtime_requirements() -> list[str]:
    """The grader's runtime dependencies (no extras), as pip requirement strings."""
    try:
        reqs = metadata.requires("autograder") or []
    except metadata.PackageNotFoundError:
        reqs = []
    return sorted(r for r in reqs if "extra ==" not in r)


def dockerfile(base: str, user: str | None = None) -> str:
    """A Dockerfile for an image that can run the grader (and, optionally, has a non-root `user`)."""
    pins = " ".join(f"'{r}'" for r in runtime_requirements())
    lines = [
        "# Image requirements of the autograder: Python 3.10+ and its runtime dependencies.",
        f"FROM {base}",
        "RUN python3 -m pip install --no-cache-dir " + pins,
    ]
    if user:
        lines.append(f"RUN useradd --create-home {user}  # Tango runs the job as this non-root user")
        lines.append(f"USER {user}")
    return "\n".join(lines) + "\n"


def _fallback_scores(assignment: Assignment) -> str:
    """The autoresult printed when the grader cannot give one: every task at 0."""
    return json.dumps({"scores": {t.id: 0 for t in assignment.tasks}}, separators=(", ", ": "))


def _fill(text: str, assignment: Assignment) -> str:
    """A template with the assignment's name and fallback scores filled in."""
    return text.replace("@ASSIGNMENT@", assignment.name).replace("@FALLBACK@", _fallback_scores(assignment))


def _write_tar(path: Path, entries: dict[str, tuple[bytes, int]]) -> None:
    """A reproducible tar (sorted, fixed times and owners) of {name: (content, mode)}."""
    tmp = path.with_name(path.name + ".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            data, mode = entries[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, _EPOCH
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(path)


def build_autolab(out: Path, assignment: Assignment) -> list[Path]:
    """Write out/autograde.tar, out/autograde-Makefile, out/Dockerfile and out/README.md; return them."""
    out.mkdir(parents=True, exist_ok=True)
    entries = {f"grader/{name}": value for name, value in project_entries(assignment).items()}
    entries["grader/run.sh"] = (_fill((AUTOLAB_TEMPLATES / "run.sh").read_text(), assignment).encode(), 0o755)
    _write_tar(out / "autograde.tar", entries)
    (out / "autograde-Makefile").write_text(_fill((AUTOLAB_TEMPLATES / "autograde-Makefile").read_text(), assignment))
    (out / "Dockerfile").write_text(dockerfile("python:3.10-slim", user="autograde"))
    problems = ", ".join(f"{t.id} ({t.points:g})" for t in assignment.tasks)
    (out / "README.md").write_text(
        f"# Autolab: {assignment.name}\n\n"
        "1. Build the image from `Dockerfile` and register it with Tango (the assessment's VM image).\n"
        "2. In the assessment, upload `autograde.tar` and `autograde-Makefile`, set the handin filename to\n"
        "   `handin.zip` (or pass `HANDIN=...` in the Makefile) and create one problem per task, named\n"
        f"   exactly: {problems}.\n"
        "3. The last output line is always the scores JSON; a grader failure scores 0 with a note.\n"
    )
    return [out / n for n in ("autograde.tar", "autograde-Makefile", "Dockerfile", "README.md")]


def build_prairielearn(
    out: Path, assignment: Assignment, image: str = PL_IMAGE, timeout: int = PL_TIMEOUT
) -> list[Path]:
    """Write a PrairieLearn course fragment under `out` (question, serverFilesCourse, Dockerfile); return the files.

    `image` may contain `{package}` (the assignment's package name).
    """
    image = image.format(package=assignment.package)
    grader_dir = f"{assignment.name}_autograder"
    server = out / "serverFilesCourse" / grader_dir
    question = out / "questions" / assignment.name
    written: list[Path] = []
    entries = dict(project_entries(assignment))
    entries["run.sh"] = (_fill((PL_TEMPLATES / "run.sh").read_text(), assignment).encode(), 0o755)
    for name, (data, mode) in sorted(entries.items()):
        target = server / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(mode)
        written.append(target)
    question.mkdir(parents=True, exist_ok=True)
    info = {
        # uuid5 of the name: rebuilding keeps the question's identity in the course.
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"autograder:{assignment.name}")),
        "title": f"{assignment.name}: autograded handin",
        "topic": "Autograded programming",
        "tags": ["autograder"],
        "type": "v3",
        "singleVariant": True,
        "gradingMethod": "External",
        "externalGradingOptions": {
            "enabled": True,
            "image": image,
            "serverFilesCourse": [f"{grader_dir}/"],
            "entrypoint": f"/grade/serverFilesCourse/{grader_dir}/run.sh",
            "timeout": timeout,
        },
    }
    (question / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    (question / "question.html").write_text(_fill((PL_TEMPLATES / "question.html").read_text(), assignment))
    (out / "Dockerfile").write_text(dockerfile("python:3.10-slim"))
    (out / "README.md").write_text(
        f"# PrairieLearn: {assignment.name}\n\n"
        f"Copy `questions/{assignment.name}/` and `serverFilesCourse/{grader_dir}/` into the course repository.\n"
        f"Build the image from `Dockerfile` and push it to Docker Hub as `{image}` (PrairieLearn pulls images only\n"
        "from Docker Hub, so the name needs your namespace: rebuild with\n"
        f"`--image yourorg/{assignment.package}-autograder:TAG`),\n"
        "then sync the course and its Docker images in PrairieLearn (Sync > Pull from remote, then sync images).\n"
        "An ungradable handin (e.g. a misnamed package) comes back `gradable: false` with `format_errors`.\n"
    )
    return written + [question / "info.json", question / "question.html", out / "Dockerfile", out / "README.md"]
