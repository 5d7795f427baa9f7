"""The class report after a regrade: content from the results, pictures that load in a real browser.

A stand-in grader writes reports with known failure messages and hints, so the grouped counts are
exact. The page is opened in headless Chromium (Debian's chromium package; `make test` installs it),
which must render it and load every image; without matplotlib the report still has its tables.
"""

from __future__ import annotations

import builtins
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.framework import class_report
from autograder.framework.regrade import regrade
from autograder.framework.rubric import Assignment, Task

GRADER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    folder, results = Path(sys.argv[1]), Path(sys.argv[2])
    kind = (folder / "kind.txt").read_text().strip()
    if kind == "refused":
        out = "The archive is corrupt."
        tests = [{"number": t, "score": 0, "max_score": 5, "output": out} for t in ("1", "2")]
        results.write_text(json.dumps({"score": 0, "tests": tests}))
        sys.exit(0)
    if kind == "crash":
        sys.exit(3)
    ok = kind == "good"
    one = "3 of 3 checks passed." if ok else (
        "1 of 3 checks passed.\\nFAILED test_mul[3x5] (2 cases, same message): Mul.backward, gradient for input b: "
        + folder.name[-1] + " of 15 elements wrong\\n  b.grad[0, 0]: expected 1, got -1\\n  Hint: the sign of every element is flipped.")
    tests = [{"number": "1", "score": 5 if ok else 1.67, "max_score": 5, "output": one},
             {"number": "2", "score": 5, "max_score": 5, "output": "2 of 2 checks passed."}]
    results.write_text(json.dumps({"score": sum(t["score"] for t in tests), "tests": tests,
                                   "extra_data": {"tasks": {t["number"]: t["score"] for t in tests}}}))
""")
TOY = Assignment(
    name="toy",
    package="toylib",
    tasks=(Task("1", "Mul backward", 5), Task("2", "Add backward", 5)),
    reference_root=Path("/nonexistent"),
    tests_dir=Path("/nonexistent"),
    scenarios_file=Path("/nonexistent"),
)
KINDS = {"1": "good", "2": "good", "3": "sign", "4": "sign", "5": "sign", "6": "refused", "7": "crash"}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A regrade of seven submissions (two right, three with the same bug, one refused, one crash)."""
    script = tmp_path / "grader.py"
    script.write_text(GRADER)
    export = tmp_path / "export"
    for sid, kind in KINDS.items():
        (export / f"submission_{sid}").mkdir(parents=True)
        (export / f"submission_{sid}" / "kind.txt").write_text(kind)
    (export / "submission_metadata.yml").write_text(
        "".join(f"submission_{s}:\n  :submitters:\n  - :name: S{s}\n    :email: s{s}@x.edu\n" for s in KINDS)
    )
    out = tmp_path / "out"
    regrade(
        export,
        out,
        TOY,
        jobs=2,
        progress=False,
        versions={},
        command=lambda folder, results, slot: [sys.executable, str(script), str(folder), str(results)],
    )
    return out


def test_report_content(out: Path) -> None:
    lines = class_report.write_class_report(out, TOY)
    md = (out / "report.md").read_text()
    assert "submissions: **7**" in md and "graded: **6**" in md
    # the three sign bugs group into one row despite different numbers, with example ids
    (row,) = [ln for ln in md.splitlines() if "Mul.backward, gradient for input b" in ln]
    assert row.startswith("| 1 | 3 |") and "3, 4, 5" in row
    (hint,) = [ln for ln in md.splitlines() if "Hint: the sign" in ln]
    assert hint.startswith("| 1 | 3 |")
    assert "| 1 | Mul backward | 33% |" in md and "| 2 | Add backward | 83% |" in md  # the refused handin scores 0
    assert "| 6 | refused | The archive is corrupt. |" in md and "| 7 | grader error |" in md
    assert "## Slowest submissions" in md and (out / "report_files" / "scores.png").is_file()
    assert "![score histogram](report_files/scores.png)" in md and len(lines) == 1
    page = (out / "report.html").read_text()
    assert not re.search(r"""(src|href)=['"]?(https?:|//)""", page)  # self-contained: opens offline


def test_report_without_matplotlib(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    lines = class_report.write_class_report(out, TOY)
    assert any("matplotlib is not installed" in ln for ln in lines)
    page = (out / "report.html").read_text()
    assert "<img" not in page and "class='bar'" in page and "Mul.backward" in page
    assert "| 0-1 |" in (out / "report.md").read_text()


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium (make test installs it: make browser)")
def test_report_renders_in_headless_chromium(out: Path, tmp_path: Path) -> None:
    class_report.write_class_report(out, TOY)
    page = tmp_path / "probe.html"
    # The report plus a probe that records, once loaded, each image's decoded size in the DOM.
    page.write_text(
        (out / "report.html")
        .read_text()
        .replace(
            "</body>",
            """<script>
window.addEventListener('load', () => {
  const seen = Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]);
  document.body.setAttribute('data-probe', JSON.stringify({images: seen, tables: document.querySelectorAll('table').length}));
});
</script></body>""",
        )
    )
    proc = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    match = re.search(r"data-probe=\"([^\"]*)\"", proc.stdout)
    assert match, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    probe = json.loads(match.group(1).replace("&quot;", '"'))
    assert probe["tables"] >= 5
    assert len(probe["images"]) == 2 and all(ok and w > 100 and h > 50 for ok, w, h in probe["images"]), probe
