"""Pictures of a computation graph: `mytorch.draw(root)` (given code, like micrograd's draw_dot).

    y = (x * w).sum()
    y.backward()
    print(mytorch.draw(y, names={"x": x, "w": w, "y": y}))   # Graphviz DOT text
    mytorch.draw(y, filename="graph")                        # also graph.svg if Graphviz is installed

Each box is one tensor: its name (when given), the op that made it (or "leaf" / "constant"), its
shape, its value when it has one element, and its gradient once backward has given it one (the
value itself for one element, the norm otherwise). Arrows go from an input to the op that used it;
a tensor used twice by one op (x * x) gets two arrows. Only numpy and the standard library are used.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .tensor import Tensor


def _nodes(root: Tensor) -> list[Tensor]:
    """Every tensor `root` was computed from (constants included), in breadth-first order from root."""
    seen = {id(root)}
    found, queue = [], deque([root])
    while queue:
        t = queue.popleft()
        found.append(t)
        for parent in t.grad_fn.inputs if t.grad_fn is not None else ():
            if id(parent) not in seen:
                seen.add(id(parent))
                queue.append(parent)
    return found


def _number(x: float) -> str:
    """A short, stable rendering of a float: 4 significant digits, no '-0'."""
    text = f"{float(x):.4g}"
    return "0" if text == "-0" else text


def _label(t: Tensor, name: str | None, rank: int | None) -> str:
    """The lines of one tensor's box, joined with DOT's centred line break."""
    if t.grad_fn is not None:
        kind = type(t.grad_fn).__name__
    else:
        kind = "leaf" if t.requires_grad else "constant"
    head = f"{name}: {kind}" if name else kind
    lines = [f"#{rank}  {head}" if rank is not None else head, f"shape {tuple(t.shape)}"]
    if t.data.size == 1:
        lines.append(f"value {_number(t.data.reshape(-1)[0])}")
    if isinstance(t.grad, np.ndarray):
        if t.grad.size == 1:
            lines.append(f"grad {_number(t.grad.reshape(-1)[0])}")
        else:
            lines.append(f"|grad| {_number(np.linalg.norm(t.grad))}")
    return "\\n".join(line.replace('"', "'") for line in lines)


def to_dot(
    root: Tensor,
    names: Mapping[str, Tensor] | None = None,
    order: Sequence[Tensor] | None = None,
    title: str | None = None,
) -> str:
    """The graph behind `root` as Graphviz DOT text (deterministic: the same graph gives the same text).

    Args:
        root: the tensor to draw the graph of (usually the loss).
        names: optional labels, e.g. {"x": x, "y": y}; unnamed tensors show only their op.
        order: optional list of tensors (e.g. what topological_sort returned); each listed tensor is
            numbered #1, #2, ... in the picture by its position in the list.
        title: optional caption under the graph.
    """
    label_of = {id(t): n for n, t in (names or {}).items()}
    rank_of = {id(t): i for i, t in enumerate(order or (), start=1)}
    nodes = _nodes(root)
    key = {id(t): f"n{i}" for i, t in enumerate(nodes)}
    out = [
        "digraph mytorch {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded", fontname="Helvetica"];',
        '  edge [color="#555555"];',
    ]
    if title:
        out.append(f'  label="{title}"; labelloc=b; fontname="Helvetica";')
    for t in nodes:
        style = ' style="rounded,dashed"' if t.grad_fn is None and not t.requires_grad else ""
        bold = " penwidth=2" if t is root else ""
        out.append(f'  {key[id(t)]} [label="{_label(t, label_of.get(id(t)), rank_of.get(id(t)))}"{style}{bold}];')
    for t in nodes:
        if t.grad_fn is None:
            continue
        for slot, parent in enumerate(t.grad_fn.inputs):
            tag = f' [label="{slot}", fontsize=10]' if len(t.grad_fn.inputs) > 1 else ""
            out.append(f"  {key[id(parent)]} -> {key[id(t)]}{tag};")
    out.append("}")
    return "\n".join(out) + "\n"


def render_svg(dot_text: str, path: Path) -> bool:
    """Write `path` as SVG with Graphviz's `dot` program; False (nothing written) when it is missing."""
    exe = shutil.which("dot")
    if exe is None:
        return False
    svg = subprocess.run([exe, "-Tsvg"], input=dot_text, capture_output=True, text=True, check=True).stdout
    Path(path).write_text(svg, encoding="utf-8")
    return True


def draw(
    root: Tensor,
    filename: str | Path | None = None,
    *,
    names: Mapping[str, Tensor] | None = None,
    order: Sequence[Tensor] | None = None,
    title: str | None = None,
) -> str:
    """Draw the graph behind `root`: returns its DOT text; with `filename`, also writes an SVG.

    With `filename` ("graph" or "graph.svg"), the SVG is written when Graphviz's `dot` program is
    installed; otherwise one line says so and how to view the DOT text anyway. See `to_dot` for
    `names`, `order` and `title`.
    """
    text = to_dot(root, names=names, order=order, title=title)
    if filename is not None:
        target = Path(filename).with_suffix(".svg")
        if render_svg(text, target):
            print(f"mytorch.draw: wrote {target}")
        else:
            print(
                "mytorch.draw: Graphviz's `dot` program is not installed, so no SVG was written "
                "(install graphviz, or paste the returned DOT text into any online Graphviz viewer)"
            )
    return text
