"""regrade.py: reading Gradescope exports, parallel slots, resume, error rows, and a real class of 22.

The fast tests use a stand-in grader (a tiny script whose behaviour each submission chooses) to pin
down the batch logic; the last test regrades a synthetic export with the real `autograder grade`.
"""

from __future__ import annotations

import csv
import json
import shutil
import stat
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.assignments.hw1p1.assignment import ASSIGNMENT
from autograder.cli.grade import grade_command
from autograder.cli.regrade import regrade_command
from autograder.framework.class_report import write_class_report
from autograder.framework.gradebook import parse_time
from autograder.framework.handoutgen import strip_fences
from autograder.framework.options import BadOption
from autograder.framework.regrade import read_export, regrade, summary_lines
from autograder.framework.rubric import Assignment, Task
from autograder.framework.sandbox.slots import parse_slots

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy(tmp_path: Path) -> Assignment:
    """A two-task assignment whose tests, reference and scenarios are small files of its own."""
    root = tmp_path / "toy"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_hidden.py").write_text("def test_a(): pass\n")
    (root / "ref" / "toylib").mkdir(parents=True)
    (root / "ref" / "toylib" / "__init__.py").write_text("X = 1\n")
    (root / "scenarios.py").write_text("")
    return Assignment(
        name="toy",
        package="toylib",
        tasks=(Task("1", "a", 4), Task("2", "b", 6)),
        reference_root=root / "ref",
        tests_dir=root / "tests",
        scenarios_file=root / "scenarios.py",
    )


# The stand-in grader: does what the submission's behaviour.txt says, logs (slot, start, end).
FAKE_GRADER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    folder, results, slot, log = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    start = time.monotonic()
    what = (folder / "behaviour.txt").read_text().split()
    time.sleep(0.05)  # long enough for concurrent jobs to overlap
    if what[0] == "score":
        a, b = float(what[1]), float(what[2])
        tests = [{"name": "Task 1", "number": "1", "score": a, "max_score": 4, "output": "x checks passed"},
                 {"name": "Task 2", "number": "2", "score": b, "max_score": 6, "output": "y checks passed"}]
        results.write_text(json.dumps({"score": a + b, "tests": tests, "extra_data": {"tasks": {"1": a, "2": b}}}))
    elif what[0] == "refused":
        tests = [{"name": f"Task {t}", "number": t, "score": 0, "max_score": 1, "output": "The archive is corrupt."}
                 for t in ("1", "2")]
        results.write_text(json.dumps({"score": 0, "tests": tests}))
    elif what[0] == "crash":
        print("Traceback: boom", file=sys.stderr)
        sys.exit(3)
    elif what[0] == "placeholder-then-crash":
        results.write_text(json.dumps({"score": 0, "tests": []}))
        sys.exit(1)
    elif what[0] == "hang":
        time.sleep(60)
    with open(log, "a") as f:
        f.write(json.dumps([folder.name, slot, start, time.monotonic()]) + "\\n")
""")

METADATA = textwrap.dedent("""
    submission_101:
      :submitters:
      - :name: Ada Lovelace
        :sid: '1815'
        :email: ada@example.edu
      :created_at: 2026-02-01 10:00:00.000000000 -05:00
      :score: 7.5
      :history: []
    submission_9:
      :submitters:
      - :name: Grace Hopper
        :sid: '1906'
        :email: grace@example.edu
      - :name: Alan Turing
        :sid: '1912'
        :email: alan@example.edu
      :created_at: 2026-02-02 11:30:00.000000000 -05:00
      :score: 10.0
      :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess
        score: 10.0
    submission_55:
      :submitters:
      - :name: No Folder
        :sid: '55'
        :email: nofolder@example.edu
      :created_at: 2026-02-03 09:00:00.000000000 -05:00
      :score: 0.0
""")


@pytest.fixture
def fake(tmp_path: Path):
    """(command, log path): the stand-in grader as a regrade Command."""
    script = tmp_path / "fake_grader.py"
    script.write_text(FAKE_GRADER)
    log = tmp_path / "grader.log"

    def command(folder: Path, results: Path, slot: int) -> list[str]:
        return [sys.executable, str(script), str(folder), str(results), str(slot), str(log)]

    return command, log


def make_export(root: Path, behaviours: dict[str, str], metadata: str = "") -> Path:
    """An export folder assignment_1_export/ with metadata and one folder per behaviour."""
    export = root / "assignment_1_export"
    export.mkdir(parents=True)
    lines = [metadata.strip("\n")] if metadata else []
    for sid, what in behaviours.items():
        (export / f"submission_{sid}").mkdir()
        (export / f"submission_{sid}" / "behaviour.txt").write_text(what)
        if f"submission_{sid}:" not in metadata:
            lines.append(
                f"submission_{sid}:\n  :submitters:\n  - :name: Student {sid}\n    :sid: 's{sid}'\n"
                f"    :email: s{sid}@example.edu\n  :score: 1.0"
            )
    (export / "submission_metadata.yml").write_text("\n".join(lines) + "\n")
    return export


def all_rows(out: Path) -> list[dict[str, str]]:
    """scores.csv's rows (one per student), after checking they are sorted by id and every status is set."""
    with (out / "scores.csv").open(newline="") as f:
        data = list(csv.DictReader(f))
    ids = [r["submission_id"] for r in data]
    assert ids == sorted(ids, key=lambda i: (not i.isdigit(), int(i) if i.isdigit() else 0, i))
    assert all(r["status"] for r in data), [r for r in data if not r["status"]]
    return data


def rows(out: Path) -> dict[str, dict[str, str]]:
    """scores.csv as {submission_id: first row}."""
    table: dict[str, dict[str, str]] = {}
    for r in all_rows(out):
        table.setdefault(r["submission_id"], r)
    return table


def logged(log: Path) -> list[list]:
    """The stand-in grader's invocations that reached the end."""
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


# ------------------------------------------------------------------------------ reading exports


def test_read_export_ruby_symbol_metadata(tmp_path: Path) -> None:
    export = make_export(tmp_path, {"101": "score 1 2", "9": "score 1 1", "300": "score 0 0"}, METADATA)
    subs = {s.id: s for s in read_export(export)}
    assert [s.id for s in read_export(export)] == ["9", "55", "101", "300"]  # numeric order
    assert subs["9"].names == ["Grace Hopper", "Alan Turing"] and subs["9"].sids == ["1906", "1912"]
    assert subs["9"].emails == ["grace@example.edu", "alan@example.edu"] and subs["9"].old_score == 10.0
    assert subs["101"].created_at.startswith("2026-02-01") and subs["101"].old_score == 7.5
    assert subs["55"].folder is None  # listed, but its folder is missing
    assert subs["300"].folder == export / "submission_300" and subs["300"].names == ["Student 300"]


# ------------------------------------------------------------------------------ the batch logic


def test_regrade_rows_errors_and_slots(tmp_path: Path, fake, toy) -> None:
    command, log = fake
    behaviours = {str(i): f"score {i % 5} {i % 7}" for i in range(1, 9)}
    behaviours.update({"20": "crash", "21": "refused", "22": "placeholder-then-crash"})
    export = make_export(tmp_path / "x", behaviours, METADATA.replace("submission_9:", "submission_9x:"))
    out = tmp_path / "out"
    results = regrade(export.parent, out, toy, jobs=3, command=command, progress=False)
    assert len(results) == len(behaviours) + 3  # + 101, 9x and 55 from the metadata
    table = rows(out)
    for i in range(1, 9):
        r = table[str(i)]
        assert (r["task 1"], r["task 2"], r["new_score"]) == (f"{i % 5:g}", f"{i % 7:g}", f"{i % 5 + i % 7:g}")
        assert (r["name"], r["sid"], r["old_score"], r["error"], r["status"]) == (
            f"Student {i}",
            f"s{i}",
            "1",
            "",
            "graded",
        )
        assert json.loads((out / str(i) / "results.json").read_text())["score"] == i % 5 + i % 7
    assert "exited with 3" in table["20"]["error"] and "Traceback: boom" in table["20"]["error"]
    assert table["20"]["new_score"] == "" and table["20"]["status"] == "grader error"
    assert table["21"]["new_score"] == "0" and table["21"]["error"] == "The archive is corrupt."
    assert table["21"]["status"] == "refused"  # a zero-import handin says so: never an empty status
    assert "exited with 1" in table["22"]["error"]
    assert table["55"]["error"] == "submission folder missing from the export" and table["55"]["name"] == "No Folder"
    assert table["55"]["status"] == "missing"
    # a group submission: one row per member, each with its own name, SID and email
    group = [r for r in all_rows(out) if r["submission_id"] == "9x"]
    assert [(r["name"], r["sid"], r["email"], r["group_size"]) for r in group] == [
        ("Grace Hopper", "1906", "grace@example.edu", "2"),
        ("Alan Turing", "1912", "alan@example.edu", "2"),
    ]
    assert all("missing" in r["error"] and r["status"] == "missing" for r in group)
    # concurrent graders never share a slot, and 3 slots were really used at once
    spans = logged(log)
    assert {s[1] for s in spans} <= {0, 1, 2}
    for a in spans:
        overlapping = [b for b in spans if b is not a and b[2] < a[3] and a[2] < b[3]]
        assert a[1] not in {b[1] for b in overlapping}, (a, overlapping)
    assert max(len([b for b in spans if b[2] <= a[2] < b[3]]) for a in spans) >= 2


def test_regrade_resumes(tmp_path: Path, fake, toy) -> None:
    command, log = fake
    export = make_export(
        tmp_path / "x", {"1": "score 4 6", "2": "crash", "3": "placeholder-then-crash", "4": "score 1 0"}
    )
    out = tmp_path / "out"
    regrade(export, out, toy, jobs=2, command=command, progress=False)
    assert sorted(s[0] for s in logged(log)) == ["submission_1", "submission_4"]
    (out / "4" / "results.json").write_text("{not json")  # a damaged report is regraded too
    for sid in ("2", "3"):
        (export / f"submission_{sid}" / "behaviour.txt").write_text("score 2 2")
    log.unlink()
    regrade(export, out, toy, jobs=2, command=command, progress=False)
    assert sorted(s[0] for s in logged(log)) == ["submission_2", "submission_3", "submission_4"]
    table = rows(out)
    assert [table[i]["new_score"] for i in "1234"] == ["10", "4", "4", "1"]
    assert all(table[i]["error"] == "" for i in "1234")


def test_regrade_timeout_kills_and_continues(tmp_path: Path, fake, toy) -> None:
    command, _ = fake
    export = make_export(tmp_path / "x", {"1": "hang", "2": "score 1 1"})
    results = {
        r.id: r for r in regrade(export, tmp_path / "out", toy, jobs=2, command=command, timeout=1.0, progress=False)
    }
    assert "timed out after 1 s" in results["1"].error and results["1"].seconds < 10
    assert results["2"].score == 2 and results["2"].error == ""


def test_regrade_from_zip(tmp_path: Path, fake, toy) -> None:
    command, _ = fake
    export = make_export(tmp_path / "x", {"1": "score 4 6", "2": "score 0 1"})
    (export / "submission_2" / "zeros.npy").write_bytes(bytes(3 << 20))  # compresses ~1000:1, still fine
    zipped = tmp_path / "export.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(export.rglob("*")):
            zf.write(p, p.relative_to(tmp_path / "x").as_posix())
    regrade(zipped, tmp_path / "out", toy, jobs=2, command=command, progress=False)
    assert [r["new_score"] for r in rows(tmp_path / "out").values()] == ["10", "1"]


def test_cli_rejects_a_folder_without_metadata(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(
        regrade_command, [str(tmp_path / "empty"), "--out", str(tmp_path / "out"), "--assignment", "hw1p1"]
    )
    assert result.exit_code != 0 and "submission_metadata.yml" in result.output


# ------------------------------------------------------------------------------ a real class


def _package(dest: Path, edit: dict[str, tuple[str, str]] | None = None, stub: bool = False) -> Path:
    """A copy of the reference mytorch at dest/mytorch: stubbed (handout-like), or with (file: (old, new)) bugs."""
    shutil.copytree(
        ASSIGNMENT.reference_root / "mytorch", dest / "mytorch", ignore=shutil.ignore_patterns("__pycache__")
    )
    for path in (dest / "mytorch").rglob("*.py"):
        text = path.read_text()
        if stub:
            text, _ = strip_fences(text, str(path))
        for rel, (old, new) in (edit or {}).items():
            if path.relative_to(dest / "mytorch").as_posix() == rel:
                assert text.count(old) == 1, (rel, old)  # the bug goes exactly where we mean it
                text = text.replace(old, new)
        path.write_text(text)
    return dest


def _zip_folder(src: Path, zip_path: Path) -> None:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.rglob("*")):
            zf.write(p, p.relative_to(src).as_posix())


BUGS = {  # submission id: (file, (reference text, buggy text), task that must lose points)
    "311": ("ops/elementwise.py", ("unbroadcast(-grad_output, b_shape)", "unbroadcast(grad_output, b_shape)"), "2.2"),
    "312": ("ops/elementwise.py", ("return (grad_output / a,)", "return (grad_output * a,)"), "2.4"),
    "313": (
        "ops/elementwise.py",
        ("unbroadcast(grad_output * b, a.shape)", "unbroadcast(grad_output * a, a.shape)"),
        "2.3",
    ),
    "314": ("ops/elementwise.py", ("return (grad_output * out,)", "return (out,)"), "2.4"),
}


def test_regrade_a_synthetic_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """23 submissions through the real grader, 2 jobs: every row checked."""
    # Worker uids of our own (slots 0, 1 -> 64400, 64401), so that a grader running elsewhere on this
    # machine with the default slots can never kill our workers when it cleans up its uid, or we its.
    monkeypatch.setenv("AUTOGRADER_WORKER_UID_BASE", "64400")
    export = tmp_path / "assignment_5_export"
    export.mkdir()
    full = {t.id: t.points for t in ASSIGNMENT.tasks}
    folders: dict[str, Path] = {}

    def folder(sid: str) -> Path:
        folders[sid] = export / f"submission_{sid}"
        folders[sid].mkdir(exist_ok=True)
        return folders[sid]

    for sid in ("101", "102", "103"):  # the reference: as a folder, nested in a zip, as a tar.gz
        _package(folder(sid) if sid == "101" else tmp_path / f"ref{sid}")
    _zip_folder(tmp_path / "ref102", folder("102") / "handin.zip")
    shutil.make_archive(str(folder("103") / "handin"), "gztar", tmp_path / "ref103")
    _package(folder("104") / "hw1" / "handin")  # nested two folders deep, beside junk
    (folder("104") / "hw1" / ".DS_Store").write_bytes(b"\0\0")
    for sid in ("201", "202", "203"):  # the bare handout
        _package(folder(sid), stub=True)
    for sid, (rel, change, _task) in BUGS.items():
        _package(folder(sid), {rel: change})
    (folder("401") / "handin.zip").write_bytes(b"PK\x03\x04 this is not really a zip")  # corrupt
    with zipfile.ZipFile(folder("402") / "handin.zip", "w"):
        pass  # empty
    with zipfile.ZipFile(folder("403") / "handin.zip", "w") as zf:
        zf.writestr("../../evil.py", "print('escaped')")
        zf.writestr("mytorch/__init__.py", "")
    (folder("404") / "MyTorch").mkdir()
    (folder("404") / "MyTorch" / "__init__.py").write_text("")
    for sid, line in (("405", "def broken(:"), ("406", "import os; os._exit(0)")):  # SyntaxError; dies at import
        init = _package(folder(sid)) / "mytorch" / "__init__.py"
        init.write_text(init.read_text() + f"\n{line}\n")
    (folder("407") / "notes.txt").write_text("I will hand in later")
    with tarfile.open(folder("408") / "handin.tar", "w") as tf:  # a link to the reference
        info = tarfile.TarInfo("mytorch")
        info.type, info.linkname = tarfile.SYMTYPE, str(ASSIGNMENT.reference_root / "mytorch")
        tf.addfile(info)
    ids = sorted(folders, key=int) + ["501", "502"]  # 501, 502: in the metadata, no folder
    meta = "".join(
        f"submission_{sid}:\n  :submitters:\n  - :name: Student {sid}\n    :sid: '{sid}'\n"
        f"    :email: s{sid}@example.edu\n  :created_at: 2026-03-01 12:00:00.0 +00:00\n"
        f"  :score: {int(sid) % 50}.0\n"
        for sid in ids
    )
    (export / "submission_metadata.yml").write_text(meta)
    assert len(ids) >= 20

    out = tmp_path / "out"
    result = CliRunner().invoke(
        regrade_command, [str(export), "--out", str(out), "--jobs", "2", "--assignment", "hw1p1"]
    )
    assert result.exit_code == 1, result.output  # 501 and 502 could not be graded: the TA must notice
    assert "2 not graded" in result.output
    table = rows(out)
    assert list(table) == ids
    for sid in ids:
        r = table[sid]
        assert (r["name"], r["sid"], r["email"]) == (f"Student {sid}", sid, f"s{sid}@example.edu")
        assert r["old_score"] == f"{int(sid) % 50}" and r["created_at"].startswith("2026-03-01")
        if sid in ("501", "502"):
            assert r["error"] == "submission folder missing from the export" and r["new_score"] == ""
            continue
        tasks = {t: float(r[f"task {t}"]) for t in full}
        assert float(r["new_score"]) == pytest.approx(sum(tasks.values()), abs=0.05)
        report = json.loads((out / sid / "results.json").read_text())
        assert report["score"] == pytest.approx(float(r["new_score"]))
        if sid in ("101", "102", "103", "104"):
            assert tasks == full and r["error"] == "", (sid, r)
        elif sid in ("201", "202", "203"):
            assert float(r["new_score"]) == 0 and r["error"] == "", (sid, r)
        elif sid in BUGS:
            task = BUGS[sid][2]
            assert tasks[task] < full[task] and float(r["new_score"]) < ASSIGNMENT.max_score, (sid, r)
            assert r["error"] == ""
        else:  # unusable handins: 0, with the reason in the error column or in every task's output
            assert float(r["new_score"]) == 0, (sid, r)
    outputs = {
        sid: json.loads((out / sid / "results.json").read_text())["tests"][0]["output"] for sid in ("405", "406")
    }
    assert "SyntaxError" in outputs["405"] and "SyntaxError" not in outputs["406"], outputs
    assert "exited" in outputs["406"] and "import" in outputs["406"], outputs
    assert "corrupt" in table["401"]["error"] and "empty" in table["402"]["error"]
    assert "link" in table["408"]["error"]
    assert "'..'" in table["403"]["error"] and "must be named 'mytorch'" in table["404"]["error"]
    assert "No folder 'mytorch/'" in table["407"]["error"] and "notes.txt" in table["407"]["error"]
    assert not (tmp_path / "evil.py").exists() and not (out / "evil.py").exists()

    # resumable: a second run grades nothing again and writes the same table
    before = (out / "scores.csv").read_text()
    again = CliRunner().invoke(
        regrade_command, [str(export), "--out", str(out), "--jobs", "2", "--assignment", "hw1p1"]
    )
    assert again.exit_code == 1 and f"0 graded, {len(ids) - 2} unchanged" in again.output, again.output
    assert (out / "scores.csv").read_text() == before


def test_a_retry_never_reports_the_scores_of_an_earlier_failed_run(tmp_path: Path, fake, toy) -> None:
    command, _ = fake
    export = make_export(tmp_path / "x", {"1": "score 4 6"})
    out = tmp_path / "out"
    regrade(export, out, toy, jobs=1, command=command, progress=False)
    (out / "1" / "status.json").write_text('{"returncode": 1}')  # that run counts as failed: retried
    (export / "submission_1" / "behaviour.txt").write_text("crash")  # and the retry dies before any report
    (result,) = regrade(export, out, toy, jobs=1, command=command, progress=False)
    assert result.score is None and "no usable results.json" in result.error
    assert rows(out)["1"]["new_score"] == "" and "boom" in (out / "1" / "grader.log").read_text()


def test_a_timed_out_grader_leaves_its_log(tmp_path: Path, fake, toy) -> None:
    command, _ = fake
    export = make_export(tmp_path / "x", {"1": "hang"})
    (result,) = regrade(export, tmp_path / "out", toy, jobs=1, command=command, timeout=0.5, progress=False)
    assert "timed out" in result.error and (tmp_path / "out" / "1" / "grader.log").is_file()


# ------------------------------------------------------------------------------ fingerprints, slots, gradebook


def test_a_rerun_regrades_exactly_what_changed_and_says_why(tmp_path: Path, fake, toy) -> None:
    command, log = fake
    export = make_export(tmp_path / "x", {str(i): f"score {i} 1" for i in range(1, 5)})
    out = tmp_path / "out"
    first = regrade(export, out, toy, jobs=2, command=command, progress=False)
    assert {r.reason for r in first} == {"new"} and len(logged(log)) == 4

    def rerun(**kw) -> dict[str, str]:
        log.unlink(missing_ok=True)
        results = regrade(export, out, toy, jobs=2, command=command, progress=False, **kw)
        assert sorted(s[0].split("_")[1] for s in logged(log)) == sorted(r.id for r in results if not r.skipped)
        return {r.id: r.reason for r in results if not r.skipped}

    assert rerun() == {}  # nothing changed: nothing graded
    (toy.tests_dir / "test_hidden.py").write_text("def test_a(): assert True  # a fixed hidden test\n")
    assert rerun() == {str(i): "tests changed" for i in range(1, 5)}
    (export / "submission_3" / "behaviour.txt").write_text("score 0 0")
    assert rerun() == {"3": "handin changed"}
    assert rows(out)["3"]["new_score"] == "0"
    (toy.reference_root / "toylib" / "__init__.py").write_text("X = 2\n")
    assert set(rerun().values()) == {"reference changed"}
    assert rerun(force=True) == {str(i): "forced" for i in range(1, 5)}
    assert "graded (forced: 4)" in "\n".join(
        summary_lines(regrade(export, out, toy, jobs=2, command=command, progress=False, force=True))
    )


def test_slots_choose_the_sandboxes_and_bad_slots_are_refused(tmp_path: Path, fake, toy) -> None:
    command, log = fake
    export = make_export(tmp_path / "x", {str(i): "score 1 1" for i in range(1, 7)})
    regrade(export, tmp_path / "out", toy, jobs=2, command=command, progress=False, slots=parse_slots("7-8", 2))
    assert {s[1] for s in logged(log)} == {7, 8}
    assert parse_slots("4", 3) == [4, 5, 6]
    for bad, why in (
        ("-5", "out of range"),
        ("3-1", "empty slot range"),
        ("4-4", "each job needs its own slot"),
        ("a-b", "not a slot range"),
        ("0-5000", "out of range"),
    ):
        with pytest.raises(BadOption, match=why):
            parse_slots(bad, 2)
    result = CliRunner().invoke(grade_command, [str(tmp_path), "--slot", "-5", "--assignment", "hw1p1"])
    assert result.exit_code == 2 and "out of range" in result.output


def test_gradebook_lateness_and_gradescope_csv(tmp_path: Path, fake, toy) -> None:
    command, _ = fake
    meta = METADATA.replace("submission_55:", "submission_56:")  # keep the 9-member group and 101
    export = make_export(tmp_path / "x", {"101": "score 4 6", "9": "score 1 2"}, meta)
    out = tmp_path / "out"
    due = parse_time("2026-02-01T12:00:00-05:00")
    regrade(export, out, toy, jobs=2, command=command, progress=False, due=due)
    table = all_rows(out)
    late = {r["name"]: (r["late"], r["late_by"]) for r in table}
    assert late["Ada Lovelace"] == ("no", "0:00:00")  # 10:00 for a 12:00 deadline
    assert late["Grace Hopper"] == late["Alan Turing"] == ("yes", "23:30:00")  # next day 11:30
    with (out / "gradescope_scores.csv").open(newline="") as f:
        imported = list(csv.DictReader(f))
    assert [(r["Email"], r["Total Score"]) for r in imported] == [
        ("grace@example.edu", "3"),
        ("alan@example.edu", "3"),
        ("ada@example.edu", "10"),
    ]


def test_regrade_outputs_are_private(tmp_path: Path, fake, toy) -> None:
    command, _ = fake
    make_export(tmp_path / "x", {"1": "score 1 1", "2": "crash"})
    zipped = tmp_path / "export.zip"
    _zip_folder(tmp_path / "x", zipped)
    out = tmp_path / "out"
    regrade(zipped, out, toy, jobs=2, command=command, progress=False)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(out) == 0o700 and mode(out / "_export") == 0o700
    write_class_report(out, toy)
    for name in (
        "scores.csv",
        "gradescope_scores.csv",
        "1/results.json",
        "1/status.json",
        "2/grader.log",
        "report.html",
        "report.md",
        "_export.done",
    ):
        assert mode(out / name) & 0o077 == 0, name


def test_a_zip_that_is_not_an_export_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.txt").write_text("hello")
    _zip_folder(tmp_path / "src", tmp_path / "not_export.zip")
    result = CliRunner().invoke(
        regrade_command, [str(tmp_path / "not_export.zip"), "--out", str(tmp_path / "out"), "--assignment", "hw1p1"]
    )
    assert result.exit_code != 0 and "submission_metadata.yml" in result.output
    assert not (tmp_path / "out" / "_export").exists() and not (tmp_path / "out" / "_export.done").exists()


@pytest.mark.parametrize(
    "text, iso",
    [
        ("2026-02-01 10:00:00.000000000 -05:00", "2026-02-01T10:00:00-05:00"),  # Gradescope's Ruby time
        ("2026-02-14T23:59-05:00", "2026-02-14T23:59:00-05:00"),  # what a TA types for --due
        ("2026-02-01 10:00:00-0500", "2026-02-01T10:00:00-05:00"),
        ("2026-02-01T10:00:00Z", "2026-02-01T10:00:00+00:00"),
        ("next tuesday", None),
    ],
)
def test_times_from_exports_and_the_command_line(text: str, iso: str | None) -> None:
    parsed = parse_time(text)
    assert (parsed.isoformat() if parsed else None) == iso


def test_a_due_date_without_a_time_zone_is_refused(tmp_path: Path) -> None:
    """A due date is local time: guessing its zone (UTC) would mark on-time handins late by hours."""
    (tmp_path / "export").mkdir()
    result = CliRunner().invoke(
        regrade_command,
        [
            str(tmp_path / "export"),
            "--out",
            str(tmp_path / "out"),
            "--due",
            "2026-02-16 02:30",
            "--assignment",
            "hw1p1",
        ],
    )
    assert result.exit_code == 2 and "has no time-zone offset" in result.output
