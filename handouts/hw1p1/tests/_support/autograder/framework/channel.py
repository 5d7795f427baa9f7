"""Data-only frames between the trusted parent and the worker: never pickle, always check.

A frame is an 8-byte big-endian length followed by an uncompressed `.npz` archive. Its entry
`__json__` (a uint8 array) holds a UTF-8 JSON tree in which every numpy array is replaced by
`{"__ndarray__": "a0"}` (plus `"__scalar__": true` for numpy scalars), a reference to the entry `a0`.

The parent decodes with `np.load(..., allow_pickle=False)` after checking the archive's size, entry
count and compression, and accepts only bool/int/uint/float/complex arrays. This file is
self-contained (stdlib + numpy): the worker loads it by path inside the sandbox.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

# A reply bigger than this is refused, not read. The parent holds a frame, its chunks while they are
# joined and the arrays np.load makes of it (about 3x), under Gradescope's 768 MB with the grader's own
# ~70 MiB; an autograd homework's largest reply is about 7 KB. An assignment with large arrays may raise it.
MAX_FRAME_BYTES = 32 * 1024**2
MAX_JSON_BYTES = 1024**2  # the JSON skeleton and its strings (arrays travel apart); a typical assignment needs < 1 KB
MAX_INT_DIGITS = 20  # a JSON integer numpy can hold (int64/uint64); longer ones are refused unparsed
MAX_ARRAYS = 10_000
ALLOWED_KINDS = "biufc"  # bool, int, uint, float, complex: no object, no structured, no strings
HEADER = struct.Struct(">Q")
_REF = "__ndarray__"
_SCALAR = "__scalar__"
_JSON = "__json__"


class ChannelError(ValueError):
    """A frame or tree that is malformed, too large, or not plain data."""


class NotPlainData(ChannelError):
    """A value that is not plain data; the message says what and where, in words a student can act on."""


MAX_DEPTH = 50  # containers inside containers; no scenario result needs more


def plain(node: Any, scenario: str = "", *, max_bytes: int = MAX_FRAME_BYTES) -> Any:
    """A copy of `node` made of plain data only: None, bool, int, float, complex, str, numeric numpy arrays
    (copied, C order) and numpy scalars, lists (from lists and tuples) and dicts with str keys.

    The one conversion of what student code returns, in the sandboxed worker and in the handout's
    in-process runner alike (and the walk `encode` uses). Subclasses of int/float/complex become plain
    copies and ndarray subclasses plain arrays; anything else raises NotPlainData naming `scenario`
    and where in the result it is (e.g. "scenario 'mul' returned Tensor for 'grad_a'; ...").
    """
    return _plain(node, "the result", scenario, 0, [0], max_bytes, None)


def _plain(
    node: Any,
    where: str,
    scenario: str,
    depth: int,
    size: list[int],
    max_bytes: int,
    on_array: Callable[[np.ndarray, bool], Any] | None,
) -> Any:
    """`plain` for one node; `size` counts array bytes so far. With `on_array(array, is_scalar)` (encode),
    arrays are replaced by what it returns and nothing is converted: subclasses are refused."""
    what = f"scenario {scenario!r} returned" if scenario else "the value holds"
    exact = on_array is not None
    if depth > MAX_DEPTH:
        raise NotPlainData(f"{what} data nested more than {MAX_DEPTH} levels deep")
    if node is None or type(node) in (bool, int, float, str):  # (bool cannot be subclassed)
        return node
    if type(node) is np.ndarray or isinstance(node, np.generic) or (not exact and isinstance(node, np.ndarray)):
        arr = np.asarray(node)  # drops ndarray subclasses
        if arr.dtype.kind not in ALLOWED_KINDS or arr.dtype.fields is not None:
            raise NotPlainData(
                f"{what} an array of dtype {arr.dtype} for {where}; expected numbers (bool/int/float/complex)"
            )
        size[0] += arr.nbytes
        if size[0] > max_bytes:
            raise NotPlainData(
                f"{what} more than {max_bytes // 2**20} MiB of arrays (at {where}); "
                "is an array much larger than its inputs?"
            )
        scalar = isinstance(node, np.generic)
        if on_array is not None:  # encode: serialised before it returns, so no copy is needed
            return on_array(np.asarray(arr, order="C"), scalar)
        arr = np.array(arr, order="C", copy=True)  # a copy: later changes by the caller cannot alter it
        return arr[()] if scalar else arr
    if type(node) is complex or (not exact and isinstance(node, complex)):
        value = complex(node)
        return on_array(np.asarray(np.complex128(value)), True) if on_array is not None else value
    if not exact and isinstance(node, (int, float)):  # subclasses (a student's int with a __repr__): plain copies
        return int(node) if isinstance(node, int) else float(node)
    if type(node) in (list, tuple) or (not exact and isinstance(node, (list, tuple))):
        return [
            _plain(x, f"{where}[{i}]" if depth else f"item {i}", scenario, depth + 1, size, max_bytes, on_array)
            for i, x in enumerate(list(node))
        ]
    if type(node) is dict or (not exact and isinstance(node, dict)):
        out = {}
        for k, v in dict(node).items():
            if type(k) is not str:
                raise NotPlainData(f"{what} a dict with key {k!r}; keys must be str")
            if k in (_REF, _SCALAR):
                raise NotPlainData(f"{what} a dict with key {k!r}, which the grader reserves")
            out[k] = _plain(
                v, repr(k) if depth == 0 else f"{where}[{k!r}]", scenario, depth + 1, size, max_bytes, on_array
            )
        return out
    hint = " (a Tensor? return its .data)" if _has_data(node) else ""
    raise NotPlainData(f"{what} {type(node).__name__} for {where}; expected a numpy array{hint}")


def _has_data(node: Any) -> bool:
    """Whether `node` has a `.data` attribute (a Tensor returned where its array belongs), never raising."""
    try:
        return hasattr(node, "data")
    except BaseException:
        return False


def encode(tree: Any) -> bytes:
    """Encode a tree of plain data (see `plain`) as `.npz` bytes; ChannelError for anything else."""
    arrays: dict[str, np.ndarray] = {}

    def keep(arr: np.ndarray, scalar: bool) -> dict[str, Any]:
        if len(arrays) >= MAX_ARRAYS:
            raise ChannelError(f"more than {MAX_ARRAYS} arrays in one frame")
        key = f"a{len(arrays)}"
        arrays[key] = arr
        return {_REF: key, _SCALAR: True} if scalar else {_REF: key}

    skeleton = _plain(tree, "the tree", "", 0, [0], MAX_FRAME_BYTES, keep)
    try:
        text = json.dumps(skeleton, allow_nan=True, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as e:
        raise ChannelError(f"cannot encode as JSON: {e}") from None
    buf = io.BytesIO()
    np.savez(buf, **{_JSON: np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}, **arrays)
    return buf.getvalue()


def decode(data: bytes, max_bytes: int = MAX_FRAME_BYTES) -> Any:
    """Decode `.npz` bytes from `encode` into a tree; raise ChannelError for anything else (never unpickles)."""
    if len(data) > max_bytes:
        raise ChannelError(f"frame of {len(data)} bytes exceeds the limit of {max_bytes}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ChannelError(f"not an npz archive: {e}") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ARRAYS + 1:
            raise ChannelError(f"{len(infos)} entries (limit {MAX_ARRAYS + 1})")
        # Stored entries only, and a bounded total: no zip bombs.
        if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
            raise ChannelError("compressed entries are not accepted")
        if sum(i.file_size for i in infos) > max_bytes:
            raise ChannelError(f"entries add up to more than {max_bytes} bytes")
        _check_array_headers(zf, infos)
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:
        raise ChannelError(f"not an npz archive: {e}") from None
    with npz:
        names = set(npz.files)
        if _JSON not in names:
            raise ChannelError("no __json__ entry")
        raw = _load_entry(npz, _JSON)
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ChannelError("__json__ entry is not a 1-d uint8 array")
        try:
            skeleton = json.loads(raw.tobytes().decode("utf-8"), parse_int=_parse_int)
        except ChannelError:
            raise
        except (ValueError, RecursionError) as e:
            raise ChannelError(f"__json__ is not valid UTF-8 JSON: {e}") from None
        used: set[str] = set()
        tree = _fill_arrays(skeleton, npz, names, used, depth=0)
    return tree


def _parse_int(digits: str) -> int:
    """A JSON integer that fits numpy's integers; longer digit strings are refused before int() (whose
    time grows with the square of the length on Python versions without a digit limit)."""
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ChannelError(f"an integer with {len(digits.lstrip('-'))} digits is not plain numeric data")
    value = int(digits)
    if not -(2**63) <= value < 2**64:
        raise ChannelError(f"the integer {value} does not fit in 64 bits")
    return value


def _check_array_headers(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """Each entry's .npy header must describe exactly the bytes it holds, before np.load allocates the
    array its header declares (a 100-byte entry may claim terabytes)."""
    for info in infos:
        try:
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
                header_end = f.tell()
        except Exception as e:  # whatever numpy raises on a corrupt or hostile header
            raise ChannelError(f"entry {info.filename!r} has no valid array header: {e}") from None
        if dtype.hasobject or dtype.kind not in ALLOWED_KINDS or dtype.fields is not None:
            raise ChannelError(f"entry {info.filename!r} has dtype {dtype}; only bool/int/uint/float/complex")
        count = 1
        for n in shape:
            count *= int(n)
        if header_end + count * dtype.itemsize != info.file_size:
            raise ChannelError(
                f"entry {info.filename!r} declares {count * dtype.itemsize} bytes of data "
                f"but holds {info.file_size - header_end}"
            )
        if info.filename == _JSON + ".npy" and count * dtype.itemsize > MAX_JSON_BYTES:
            raise ChannelError(f"the JSON part holds {count * dtype.itemsize} bytes (limit {MAX_JSON_BYTES})")


def _load_entry(npz: Any, key: str) -> np.ndarray:
    """One entry of the archive as a plain ndarray; object arrays fail here because allow_pickle=False."""
    try:
        arr = npz[key]
    except Exception as e:  # ValueError for object arrays, others for corrupt headers
        raise ChannelError(f"entry {key!r} is not a plain array: {e}") from None
    if type(arr) is not np.ndarray:
        raise ChannelError(f"entry {key!r} is not an array")
    return arr


def _fill_arrays(node: Any, npz: Any, names: set[str], used: set[str], depth: int) -> Any:
    """Replace array references in a decoded JSON skeleton by checked arrays."""
    if depth > 101:
        raise ChannelError("tree nested too deeply")
    if isinstance(node, list):
        return [_fill_arrays(x, npz, names, used, depth + 1) for x in node]
    if isinstance(node, dict):
        if _REF in node:
            key = node[_REF]
            if not isinstance(key, str) or key == _JSON or key not in names or key in used:
                raise ChannelError(f"bad array reference {key!r}")
            if set(node) - {_REF, _SCALAR}:
                raise ChannelError("array reference with extra keys")
            used.add(key)
            arr = _load_entry(npz, key)
            if arr.dtype.kind not in ALLOWED_KINDS or arr.dtype.fields is not None:
                raise ChannelError(f"array {key!r} has dtype {arr.dtype}; only bool/int/uint/float/complex")
            if node.get(_SCALAR) is True:
                if arr.ndim != 0:
                    raise ChannelError(f"scalar {key!r} is not 0-d")
                return arr[()]
            return arr
        return {k: _fill_arrays(v, npz, names, used, depth + 1) for k, v in node.items()}
    return node  # str, int, float, bool, None: what json.loads can produce


def frame(tree: Any) -> bytes:
    """Header + encoded tree: the exact bytes to put on the pipe."""
    body = encode(tree)
    return HEADER.pack(len(body)) + body


def write_frame(fd: int, tree: Any) -> None:
    """Write one frame to a blocking fd (worker side; the parent writes with a deadline instead)."""
    body = encode(tree)  # fully encoded before the first byte is written: an error never leaves half a frame
    for part in (HEADER.pack(len(body)), body):
        view = memoryview(part)
        while view:
            n = os.write(fd, view)
            view = view[n:]


def read_exact(fd: int, n: int) -> bytes:
    """Read exactly n bytes from a blocking fd; EOFError if the other end closed first."""
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError(f"channel closed with {left} of {n} bytes unread")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, max_bytes: int = MAX_FRAME_BYTES) -> Any:
    """Read and decode one frame from a blocking fd; EOFError on a closed channel."""
    (length,) = HEADER.unpack(read_exact(fd, HEADER.size))
    if length > max_bytes:
        raise ChannelError(f"frame of {length} bytes exceeds the limit of {max_bytes}")
    return decode(read_exact(fd, length), max_bytes)


def call_key(scenario: str, kwargs: Any, salt: str = "") -> str:
    """A stable hash of a scenario call (name and plain-data arguments), used to look up recorded or
    cached reference answers: the same on every machine and Python version.

    dtype, shape and the scalar/array distinction count (np.float64(1), np.array(1.0) and
    np.array([1.0]) differ), so do int vs float; absolute paths (e.g. a data folder) do not, since
    they differ between the TA's machine and a student's. `salt` separates versions of the answers.
    """
    h = hashlib.sha256(salt.encode() + b"\0" + scenario.encode() + b"\0")
    _feed(h, kwargs)
    return h.hexdigest()


def _feed(h: Any, value: Any) -> None:
    """Feed a plain-data tree into `h` canonically; anything else is a TypeError."""
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)  # not ascontiguousarray, which turns 0-d arrays into 1-d ones
        kind = "G" if isinstance(value, np.generic) else "A"
        h.update(f"{kind}{arr.dtype.str}{arr.shape}".encode() + arr.tobytes())
    elif value is None or isinstance(value, bool):
        h.update(f"C{value!r}".encode())
    elif isinstance(value, int):
        h.update(f"I{value}".encode())
    elif isinstance(value, float):
        h.update(f"F{value!r}".encode())
    elif isinstance(value, str):
        h.update(b"S" + (b"<abs path>" if os.path.isabs(value) else value.encode()) + b"\0")
    elif isinstance(value, (list, tuple)):
        h.update(f"L{len(value)}".encode())
        for item in value:
            _feed(h, item)
    elif isinstance(value, dict):
        h.update(f"D{len(value)}".encode())
        for key in sorted(value):
            h.update(str(key).encode() + b"\0")
            _feed(h, value[key])
    else:
        raise TypeError(f"cannot hash a {type(value).__name__} argument")
