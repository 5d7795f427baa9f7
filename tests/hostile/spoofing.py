"""Hostile handins that lie to the grader through the worker's channel, or feed it text and archives
meant to break its outputs or its memory (issue 14).

Student code runs inside the worker, so it can replace what the worker sends: these attacks patch the
worker's `send` at import time (the worker runs as `__main__`) and rewrite every call's reply. A reply
that does not fit the protocol must become the student's failure, never an internal grader error, and
no output of the grader may quote the hidden tests or the reference.
"""

from __future__ import annotations

import io
import struct
import tarfile
import textwrap
import zlib
from collections.abc import Callable
from pathlib import Path

from .corpus import Case, append, copy_package

# Installed at import: every reply after "ready" goes through _spoof(reply) -> the reply actually sent.
_PATCH = """
import sys as _sys
_Worker = getattr(_sys.modules.get("__main__"), "Worker", None)
if _Worker is not None:
    _orig_send = _Worker.send

    def _send(self, reply, _orig=_orig_send):
        if isinstance(reply, dict) and (reply.get("ready") or reply.get("loaded")):
            return _orig(self, reply)
        kwargs = _REQUEST[0].get("kwargs") or {}
        if _ONLY_MUL and kwargs.get("op") != "mul":
            return _orig(self, reply)
        return _orig(self, _spoof(reply))

    _orig_call = _Worker.call
    _REQUEST = [{}]

    def _call(self, request, _orig=_orig_call):
        _REQUEST[0] = request if isinstance(request, dict) else {}
        return _orig(self, request)

    _Worker.call = _call
    _Worker.send = _send
"""

# The body of _spoof(reply) for each attack.
SPOOFS: dict[str, str] = {
    "spoof_grader_kind": """
        return {"ok": False, "error": {"kind": "grader", "type": "RuntimeError",
                                       "message": "scenarios broken", "traceback": ""}}
    """,
    "spoof_unknown_scenario": """
        return {"ok": False, "error": {"kind": "unknown_scenario", "type": "LookupError",
                                       "message": "unknown scenario", "traceback": ""}}
    """,
    "spoof_unknown_kind": """
        return {"ok": False, "error": {"kind": "teapot", "type": "X", "message": "m", "traceback": "t"}}
    """,
    "spoof_bad_envelope": """
        return {"ok": "yes", "error": {"kind": ["exception"], "message": 3}}
    """,
    "spoof_missing_key": """
        res = reply.get("result")
        if isinstance(res, dict) and res:
            res.pop(sorted(res)[-1])
        return reply
    """,
    "spoof_complex_numbers": """
        import numpy as np

        def cx(node):
            if isinstance(node, dict):
                return {k: cx(v) for k, v in node.items()}
            if isinstance(node, list):
                return [cx(v) for v in node]
            if isinstance(node, (np.ndarray, np.generic, float, int)) and not isinstance(node, bool):
                return np.asarray(node) * (1 + 1j) if isinstance(node, np.ndarray) else complex(node, 1)
            return node
        if "result" in reply:
            reply["result"] = cx(reply["result"])
        return reply
    """,
    "spoof_huge_int": """
        def big(node):
            if isinstance(node, dict):
                return {k: big(v) for k, v in node.items()}
            if isinstance(node, list):
                return [big(v) for v in node]
            return 10 ** 400
        if "result" in reply:
            reply["result"] = big(reply["result"])
        return reply
    """,
    "spoof_wrong_types": """
        if "result" in reply:
            reply["result"] = ["not", {"what": "you expect"}]
        return reply
    """,
    "spoof_nested_lists": """
        if "result" in reply:
            node = 0.0
            for _ in range(90):  # deep, yet within the channel's nesting limit
                node = [node]
            reply["result"] = {k: node for k in reply["result"]} if isinstance(reply["result"], dict) else node
        return reply
    """,
    "spoof_huge_message": """
        # ~1 MB of JSON: astral characters, NUL, escapes and lone surrogates, in one error reply.
        text = "\\U0001F600\\x00\\x1b[2J\\ud800" * 12000
        return {"ok": False, "error": {"kind": "exception", "type": "ValueError", "message": text,
                                       "traceback": text}}
    """,
    "spoof_error_with_arrays": """
        # An error reply carrying 24 MB of arrays in a key nobody reads.
        import numpy as np
        return {"ok": False, "error": {"kind": "exception", "type": "ValueError", "message": "m",
                                       "traceback": "", "ballast": [np.ones(3 << 20)]}}
    """,
    "spoof_json_flood": """
        # 24 MB of JSON text: within the frame limit, far beyond what JSON may hold.
        return {"ok": False, "error": {"kind": "exception", "type": "ValueError", "message": "x" * (24 << 20),
                                       "traceback": ""}}
    """,
}


# Attacks that cost a worker restart or tens of MB per reply rewrite only the replies for Mul (8 checks).
ONLY_MUL = ("spoof_huge_int", "spoof_json_flood", "spoof_error_with_arrays")


def _spoofing(body: str, only_mul: bool = False) -> Callable[[Path], None]:
    """An edit that installs the send patch with `_spoof` doing `body` (only for Mul with `only_mul`)."""

    def edit(pkg: Path) -> None:
        code = "def _spoof(reply):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
        append(pkg, "__init__.py", code + f"_ONLY_MUL = {only_mul}\n" + _PATCH)

    return edit


def _variant(edit: Callable[[Path], None]) -> Callable[[Path], Path]:
    """A builder: the reference package with `edit` applied, in tmp/handin."""

    def build(tmp: Path) -> Path:
        root = tmp / "handin"
        root.mkdir()
        edit(copy_package("reference", root))
        return root

    return build


# Text a student controls, sent the honest way (raised and printed), meant to break every output path.
UGLY_TEXT = "\\U0001F600\\U0001F4A9\\x00\\x07\\x1b[31m\\r\\ud800\\udfff\\u202e"


def _ugly_text(pkg: Path) -> None:
    append(
        pkg,
        "ops/elementwise.py",
        f'''
_ugly_orig = Mul.backward


def _ugly_backward(self, grad_output):
    import sys
    sys.stdout.flush()  # raw bytes: invalid UTF-8, NUL, escapes; 64 KiB of output per call are kept
    sys.stdout.buffer.write(("{UGLY_TEXT}".encode("utf-8", "surrogatepass") + b"\\xff\\xc0") * 5000)
    sys.stdout.flush()
    raise ValueError("{UGLY_TEXT}" * 1000)


Mul.backward = _ugly_backward
''',
    )


def _huge_results(pkg: Path) -> None:
    append(
        pkg,
        "ops/elementwise.py",
        """
_huge_orig = Mul.backward


def _huge_backward(self, grad_output):
    import numpy as np
    return np.ones((3 << 19,)), np.ones((3 << 19,))  # 2 x 12 MB per call, wrong shapes


Mul.backward = _huge_backward
""",
    )


def spoofing_cases() -> list[Case]:
    """Replies that break the protocol, plus hostile text: each must score no more than the reference
    earns and come out as the student's failure (base "reference": the attack-free score is full marks)."""
    cases = [Case(name, _variant(_spoofing(body, name in ONLY_MUL)), "reference") for name, body in SPOOFS.items()]
    cases.append(Case("surrogates_nul_astral_text", _variant(_ugly_text), "reference"))
    cases.append(Case("huge_wrong_results", _variant(_huge_results), "reference"))
    return cases


# ---- archives and trees that attack the grader's own memory and stack --------------------------------


def _gzip_repeated(path: Path, head: bytes, chunk: bytes, count: int) -> None:
    """Write a valid .gz of `head` + `chunk` * `count` quickly: the chunk is deflated once after a full
    flush (which resets the compressor's history) and its output repeated; the CRC runs over the data."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = [comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)]
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    size = len(head) + len(chunk) * count
    with open(path, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")  # gzip header: deflate, no name, mtime 0
        f.write(body[0])
        for _ in range(count):
            f.write(block)
        f.write(comp.flush(zlib.Z_FINISH))
        f.write(struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF))


def long_name_tar_bomb(dest: Path, name_mib: int = 1_600) -> Path:
    """A small .tgz whose GNU long-name header declares a member name of `name_mib` MiB: tarfile would
    read (and allocate) all of it before any size check of ours."""
    header = tarfile.TarInfo("././@LongLink")
    header.type = tarfile.GNUTYPE_LONGNAME
    header.size = name_mib << 20
    path = dest / "longname.tgz"
    _gzip_repeated(path, header.tobuf(format=tarfile.GNU_FORMAT), b"a" * (1 << 20), name_mib)
    return path


def pax_tar_bomb(dest: Path, value_mib: int = 1_600) -> Path:
    """The same with a pax extended header of `value_mib` MiB (one huge "path" record)."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    size = value_mib << 20
    header.size = size + len(b"%d path=" % size)
    path = dest / "pax.tgz"
    head = header.tobuf(format=tarfile.USTAR_FORMAT) + b"%d path=" % header.size
    _gzip_repeated(path, head, b"a" * (1 << 20), value_mib)
    return path


def deep_archive(dest: Path, depth: int = 1_200) -> Path:
    """A .tar.gz holding the reference package plus one file `depth` folders deep."""
    path = dest / "deep.tar.gz"
    from .corpus import REFERENCE_PKG

    with tarfile.open(path, "w:gz") as t:
        t.add(str(REFERENCE_PKG), arcname="mytorch", filter=lambda i: None if "__pycache__" in i.name else i)
        name = "/".join(["d"] * depth) + "/f.txt"
        info = tarfile.TarInfo(name)
        info.size = 1
        t.addfile(info, io.BytesIO(b"x"))
    return path


def deep_tree(dest: Path, depth: int = 3_000) -> Path:
    """A handin folder with the reference package and a chain of `depth` nested folders beside it
    (built with relative mkdir calls: paths this deep exceed PATH_MAX)."""
    import os

    root = dest / "handin"
    root.mkdir()
    copy_package("reference", root)
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            new = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
    finally:
        os.close(fd)
    return root
