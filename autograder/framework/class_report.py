"""The class report after a regrade: OUT/report.html (one self-contained file) and OUT/report.md.

What a TA wants after grading a class: the score distribution and per-task histograms (pictures),
per-task pass rates, the failure messages and hints most common across the class (grouped, with
counts and example submission ids), the slowest submissions and those that could not be graded.

Reads only what the regrade wrote (scores.csv, <id>/results.json, <id>/status.json). Pictures need
matplotlib (the optional `report` extra of the TA install; never imported by the Gradescope grader):
without it the report keeps its tables and draws its histograms as text bars, and says how to get
the pictures. The HTML embeds its images as data: URIs, so it opens offline and can be mailed.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.framework.gradebook import SCORES_FILE
from autograder.framework.reports import write_private
from autograder.framework.rubric import Assignment

REPORT_HTML = "report.html"
REPORT_MD = "report.md"
FIGURES_DIR = "report_files"  # the Markdown's pictures (the HTML embeds its own)
TOP_MESSAGES = 15
EXAMPLE_IDS = 3
SLOWEST = 10
_FAILED = re.compile(r"^FAILED (.+?)(?: \(\d+ cases, same message\))?: (.*)$")
_HINT = re.compile(r"^\s*(Hint|Likely cause): (.*)$")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")


@dataclass
class Submission:
    """One submission as the report sees it."""

    id: str
    status: str
    error: str = ""
    score: float | None = None
    tasks: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)  # (task, message's first line)
    hints: list[tuple[str, str]] = field(default_factory=list)  # (task, hint)


@dataclass
class Grouped:
    """One message seen across the class."""

    task: str
    text: str
    count: int
    examples: list[str]


def load_class(out: Path, assignment: Assignment) -> list[Submission]:
    """Every submission in out/scores.csv (one per submission, not per student), with its report's details."""
    subs: dict[str, Submission] = {}
    with (out / SCORES_FILE).open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["submission_id"] in subs:
                continue  # another member of the same group
            sub = Submission(
                row["submission_id"],
                row["status"],
                row["error"],
                _float(row["new_score"]),
                {t.id: v for t in assignment.tasks if (v := _float(row.get(f"task {t.id}", ""))) is not None},
            )
            _read_details(out / sub.id, sub)
            subs[sub.id] = sub
    return list(subs.values())


def _float(text: str | None) -> float | None:
    """A CSV number, or None when blank."""
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _read_details(folder: Path, sub: Submission) -> None:
    """Fill in the grading time and the failure messages and hints from the submission's files."""
    try:
        sub.seconds = float(json.loads((folder / "status.json").read_text(encoding="utf-8"))["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if sub.status != "graded":  # a refused handin's one message is in its status, not per task
        return
    try:
        report = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for test in report.get("tests") or []:
        task = str(test.get("number", ""))
        for line in str(test.get("output", "")).splitlines():
            if (m := _FAILED.match(line)) is not None:
                sub.failures.append((task, m.group(2).strip()))
            elif (m := _HINT.match(line)) is not None:
                sub.hints.append((task, f"{m.group(1)}: {m.group(2).strip()}"))


def group_messages(subs: Sequence[Submission], attr: str) -> list[Grouped]:
    """Messages (numbers blanked so '3 of 15 wrong' and '4 of 7 wrong' meet) counted once per submission."""
    counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], list[str]] = {}
    shown: dict[tuple[str, str], str] = {}
    for sub in subs:
        seen = set()
        for task, text in getattr(sub, attr):
            key = (task, _NUMBER.sub("#", text))
            if key in seen:
                continue
            seen.add(key)
            counts[key] += 1
            shown.setdefault(key, text)
            if len(examples.setdefault(key, [])) < EXAMPLE_IDS:
                examples[key].append(sub.id)
    return [
        Grouped(task, shown[(task, pattern)], n, examples[(task, pattern)])
        for (task, pattern), n in counts.most_common(TOP_MESSAGES)
    ]


def pass_rates(subs: Sequence[Submission], assignment: Assignment) -> list[tuple[str, str, float, float]]:
    """(task, title, share of graded submissions with full points, mean points) per task."""
    graded = [s for s in subs if s.score is not None]
    rows = []
    for t in assignment.tasks:
        got = [s.tasks.get(t.id, 0.0) for s in graded]
        full = sum(abs(g - t.points) < 1e-9 for g in got)
        rows.append((t.id, t.title, full / len(got) if got else 0.0, statistics.fmean(got) if got else 0.0))
    return rows


# ------------------------------------------------------------------------------ pictures


def _figures(subs: Sequence[Submission], assignment: Assignment) -> dict[str, bytes] | None:
    """PNG bytes of the score histogram and the per-task histograms; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display: a regrade runs on servers and in CI
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    graded = [s for s in subs if s.score is not None]
    figures: dict[str, bytes] = {}
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    ax.hist([s.score for s in graded], bins=20, range=(0, assignment.max_score), color="#3465a4", edgecolor="white")
    ax.set_xlabel(f"score (of {assignment.max_score:g})")
    ax.set_ylabel("submissions")
    ax.set_title(f"Score distribution ({len(graded)} graded)")
    figures["scores.png"] = _png(fig, plt)
    cols = 6
    rows = -(-len(assignment.tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 1.9 * rows), dpi=100, squeeze=False)
    for ax, task in zip(axes.flat, assignment.tasks):
        ax.hist(
            [s.tasks.get(task.id, 0.0) for s in graded],
            bins=8,
            range=(0, task.points),
            color="#4e9a06",
            edgecolor="white",
        )
        ax.set_title(f"Task {task.id} (/{task.points:g})", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(assignment.tasks) :]:
        ax.axis("off")
    fig.tight_layout()
    figures["tasks.png"] = _png(fig, plt)
    return figures


def _png(fig: Any, plt: Any) -> bytes:
    """The figure as PNG bytes (and closed, so a long regrade does not accumulate figures)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _text_histogram(values: Sequence[float], top: float, bins: int = 10) -> list[tuple[str, int]]:
    """(range label, count) per bin: the histogram when no pictures can be drawn."""
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int(v / top * bins))) if top else 0] += 1
    return [(f"{top * k / bins:g}-{top * (k + 1) / bins:g}", n) for k, n in enumerate(counts)]


# ------------------------------------------------------------------------------ the two documents


def write_class_report(out: Path, assignment: Assignment) -> list[str]:
    """Write out/report.html and out/report.md (with out/report_files/*.png); return lines for the TA."""
    subs = load_class(out, assignment)
    figures = _figures(subs, assignment)
    graded = [s for s in subs if s.score is not None]
    scores = [s.score for s in graded if s.score is not None]
    stats = {
        "submissions": len(subs),
        "graded": len(graded),
        "mean": statistics.fmean(scores) if scores else 0.0,
        "median": statistics.median(scores) if scores else 0.0,
        "full marks": sum(abs(x - assignment.max_score) < 1e-9 for x in scores),
    }
    sections = {
        "rates": pass_rates(subs, assignment),
        "failures": group_messages(subs, "failures"),
        "hints": group_messages(subs, "hints"),
        "slowest": sorted((s for s in subs if s.seconds is not None), key=lambda s: -(s.seconds or 0))[:SLOWEST],
        "errored": [s for s in subs if s.status not in ("graded",)],
    }
    write_private(out / REPORT_HTML, _html(assignment, stats, sections, figures, scores).encode("utf-8"))
    if figures:
        (out / FIGURES_DIR).mkdir(mode=0o700, exist_ok=True)
        os.chmod(out / FIGURES_DIR, 0o700)
        for name, data in figures.items():
            write_private(out / FIGURES_DIR / name, data)
    write_private(out / REPORT_MD, _markdown(assignment, stats, sections, figures, scores).encode("utf-8"))
    lines = [f"wrote {out / REPORT_HTML} and {out / REPORT_MD}"]
    if figures is None:
        lines.append("(no pictures: matplotlib is not installed; `pip install -e '.[report]'` adds them)")
    return lines


def _html(
    assignment: Assignment,
    stats: dict[str, Any],
    sections: dict[str, Any],
    figures: dict[str, bytes] | None,
    scores: list[float],
) -> str:
    """The self-contained HTML page."""
    e = html.escape
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Class report: {e(assignment.name)}</title>",
        "<style>body{font-family:sans-serif;max-width:72em;margin:1em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}"
        ".bar{background:#3465a4;height:.8em;display:inline-block}img{max-width:100%}</style></head><body>",
        f"<h1>Class report: {e(assignment.name)}</h1>",
        "<p>"
        + ", ".join(f"{k}: <b>{v:.4g}</b>" if isinstance(v, float) else f"{k}: <b>{v}</b>" for k, v in stats.items())
        + "</p>",
        "<h2>Score distribution</h2>",
    ]
    if figures:
        for name, alt in (("scores.png", "score histogram"), ("tasks.png", "per-task histograms")):
            data = base64.b64encode(figures[name]).decode()
            parts.append(f"<p><img src='data:image/png;base64,{data}' alt='{alt}'></p>")
    else:
        parts.append("<p>(Install matplotlib, the <code>report</code> extra, for pictures.)</p><table>")
        top = max((n for _, n in _text_histogram(scores, assignment.max_score)), default=1) or 1
        for label, n in _text_histogram(scores, assignment.max_score):
            parts.append(
                f"<tr><td>{label}</td><td>{n}</td>"
                f"<td><span class='bar' style='width:{20 * n / top:.1f}em'></span></td></tr>"
            )
        parts.append("</table>")
    parts.append(
        "<h2>Per-task pass rates</h2><table><tr><th>task</th><th>title</th><th>full marks</th><th>mean points</th></tr>"
    )
    for task, title, rate, mean in sections["rates"]:
        parts.append(f"<tr><td>{e(task)}</td><td>{e(title)}</td><td>{rate:.0%}</td><td>{mean:.2f}</td></tr>")
    parts.append("</table>")
    for key, heading in (("failures", "Most common failure messages"), ("hints", "Most common hints")):
        parts.append(
            f"<h2>{heading}</h2><table><tr><th>task</th><th>submissions</th><th>message</th><th>examples</th></tr>"
        )
        for g in sections[key]:
            parts.append(
                f"<tr><td>{e(g.task)}</td><td>{g.count}</td><td>{e(g.text[:300])}</td>"
                f"<td>{e(', '.join(g.examples))}</td></tr>"
            )
        parts.append("</table>")
    parts.append("<h2>Slowest submissions</h2><table><tr><th>submission</th><th>seconds</th><th>score</th></tr>")
    for s in sections["slowest"]:
        parts.append(
            f"<tr><td>{e(s.id)}</td><td>{s.seconds:.1f}</td><td>{'' if s.score is None else f'{s.score:g}'}</td></tr>"
        )
    parts.append(
        "</table><h2>Not graded or refused</h2><table><tr><th>submission</th><th>status</th><th>error</th></tr>"
    )
    for s in sections["errored"]:
        parts.append(f"<tr><td>{e(s.id)}</td><td>{e(s.status)}</td><td>{e(s.error[:300])}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"


def _md_cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")[:200]


def _markdown(
    assignment: Assignment,
    stats: dict[str, Any],
    sections: dict[str, Any],
    figures: dict[str, bytes] | None,
    scores: list[float],
) -> str:
    """The Markdown summary (pictures as files under report_files/)."""
    lines = [
        f"# Class report: {assignment.name}",
        "",
        ", ".join(f"{k}: **{v:.4g}**" if isinstance(v, float) else f"{k}: **{v}**" for k, v in stats.items()),
        "",
        "## Score distribution",
        "",
    ]
    if figures:
        lines += [
            f"![score histogram]({FIGURES_DIR}/scores.png)",
            "",
            f"![per-task histograms]({FIGURES_DIR}/tasks.png)",
            "",
        ]
    else:
        lines += ["| scores | submissions |", "|---|---:|"]
        lines += [f"| {label} | {n} {'#' * n} |" for label, n in _text_histogram(scores, assignment.max_score)] + [""]
    lines += ["## Per-task pass rates", "", "| task | title | full marks | mean points |", "|---|---|---:|---:|"]
    lines += [f"| {t} | {_md_cell(title)} | {rate:.0%} | {mean:.2f} |" for t, title, rate, mean in sections["rates"]]
    for key, heading in (("failures", "Most common failure messages"), ("hints", "Most common hints")):
        lines += ["", f"## {heading}", "", "| task | submissions | message | examples |", "|---|---:|---|---|"]
        lines += [f"| {g.task} | {g.count} | {_md_cell(g.text)} | {', '.join(g.examples)} |" for g in sections[key]]
    lines += ["", "## Slowest submissions", "", "| submission | seconds | score |", "|---|---:|---:|"]
    lines += [
        f"| {s.id} | {s.seconds:.1f} | {'' if s.score is None else f'{s.score:g}'} |" for s in sections["slowest"]
    ]
    lines += ["", "## Not graded or refused", "", "| submission | status | error |", "|---|---|---|"]
    lines += [f"| {s.id} | {s.status} | {_md_cell(s.error)} |" for s in sections["errored"]]
    return "\n".join(lines) + "\n"
