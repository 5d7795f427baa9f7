"""Safe intake of a handin: copy a folder or extract an archive, then find the package inside it.

Everything here treats the handin as hostile. Nothing is ever written outside `dest`: entry names
are checked before anything is created, links and special files are refused, files are created with
O_EXCL|O_NOFOLLOW under directories we made ourselves, and sizes are checked twice (the headers,
which can lie, and the bytes actually produced). We extract member by member ourselves instead of
relying on tarfile's `filter="data"` (absent from older 3.10 patch releases) or zipfile's own
sanitising, so the same rules hold for every format and Python version.

The grader's own memory and stack are bounded too: a tar's headers are pre-scanned with a bounded
reader before tarfile sees them (tarfile reads a GNU long-name or pax header whole, whatever size it
declares), paths may be at most `max_depth` folders deep, and trees are walked and removed
iteratively (`remove_tree`), so no handin or worker folder can raise RecursionError.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from autograder.framework.errors import SubmissionError
from autograder.framework.fstree import remove_tree

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
# Names that operating systems and editors add; never part of a handin.
JUNK_NAMES = frozenset({"__MACOSX", "__pycache__", ".DS_Store", "Thumbs.db", "desktop.ini", ".ipynb_checkpoints"})
JUNK_SUFFIXES = (".pyc", ".pyo")
_CHUNK = 1 << 16
_MAX_DIRECTORY_ENTRY = 1024  # bytes of zip central directory allowed per permitted file (name, extras)
_MB = 1 << 20


@dataclass(frozen=True)
class ExtractionLimits:
    """What a handin may contain. The defaults are generous for a homework and tiny for a bomb."""

    max_files: int = 2_000  # entries of any kind (junk included: it still costs work)
    max_total_bytes: int = 50 * _MB  # uncompressed, all files together
    max_file_bytes: int = 20 * _MB  # uncompressed, one file
    max_ratio: float = 100.0  # uncompressed / compressed, checked for files above ratio_floor_bytes
    ratio_floor_bytes: int = 1 * _MB  # small files may compress well (e.g. a zero-filled .npz)
    max_depth: int = 24  # folders from the top to a file; a package/subpackage/module.py is 3
    max_meta_bytes: int = 1 * _MB  # one tar long-name / pax header (names are < 4 KB; macOS adds xattrs)


DEFAULT_LIMITS = ExtractionLimits()


def prepare_submission(src: Path, dest: Path, package: str, limits: ExtractionLimits = DEFAULT_LIMITS) -> Path:
    """Copy or extract the handin `src` into `dest`; return the folder that contains `<package>/__init__.py`.

    `src` is a folder or an archive (.zip, .tar, .tar.gz, .tgz; recognised by content, not name).
    A folder whose only content is one archive (a `handin.zip` uploaded as is) is unpacked too.
    The package may sit one or two folders deep and beside junk (`__MACOSX/`, `.DS_Store`, `.pyc`),
    which is dropped. If the package's files were handed in loose (no `<package>/` folder, as when
    files are dragged one by one into Gradescope), they are gathered into one.
    Raises SubmissionError with a student-readable message on anything unsafe or unusable.
    """
    src, dest = Path(src), Path(dest)
    _make_empty_dir(dest)
    try:
        if src.is_symlink():
            raise SubmissionError(
                f"The submission {src.name!r} is a symbolic link; hand in the folder or archive itself."
            )
        if src.is_dir():
            copy_folder(src, dest, limits)
            nested = _lone_archive(dest)
            if nested is not None and _find_package_root(dest, package) is None:
                inner = dest / (nested.name + ".extracted")
                extract_archive(nested, inner, limits)
                nested.unlink()
        elif src.is_file():
            extract_archive(src, dest, limits)
        else:
            raise SubmissionError(f"The submission {str(src)!r} does not exist.")
        return locate_package(dest, package)
    except BaseException:
        _empty_dir(dest)  # a refused handin leaves nothing behind
        raise


def extract_archive(archive: Path, dest: Path, limits: ExtractionLimits = DEFAULT_LIMITS) -> None:
    """Extract a .zip/.tar/.tar.gz/.tgz into the empty or new folder `dest`, refusing anything unsafe.

    On refusal the partial extraction is removed and SubmissionError says which entry and why.
    """
    archive, dest = Path(archive), Path(dest)
    _make_empty_dir(dest)
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, dest, limits)
        elif _is_tar(archive, limits):  # pre-scans the headers (SubmissionError on a header bomb)
            _extract_tar(archive, dest, limits)
        elif _is_blank(archive):  # an empty tar is only zero blocks; Python 3.10's tarfile refuses to open it
            raise SubmissionError(f"The archive {archive.name!r} is empty.")
        else:
            raise SubmissionError(
                f"{archive.name!r} is not a zip or tar archive (or it is corrupt). "
                f"Hand in a .zip, .tar, .tar.gz or .tgz made by `make handin`."
            )
        if not any(dest.iterdir()):
            raise SubmissionError(f"The archive {archive.name!r} is empty.")
    except BaseException:
        _empty_dir(dest)
        raise


def copy_folder(src: Path, dest: Path, limits: ExtractionLimits = DEFAULT_LIMITS) -> None:
    """Copy the regular files of folder `src` into `dest`; symlinks and special files are skipped, not followed.

    A symlink pointing at the reference solution must never become content, so links are dropped
    silently (as a platform upload would), and files are opened with O_NOFOLLOW in case one is
    swapped for a link while we copy.
    """
    src, dest = Path(src), Path(dest)
    _make_empty_dir(dest)
    if Path(os.path.realpath(dest)).is_relative_to(os.path.realpath(src)):
        raise ValueError(f"destination {dest} is inside the folder {src} being copied")
    budget = _Budget(limits, f"the folder {src.name!r}")
    try:
        pending = [PurePosixPath()]  # folders still to copy, relative to src (a stack: no recursion)
        while pending:
            rel_root = pending.pop()
            with os.scandir(src / rel_root) as it:
                entries = sorted(it, key=lambda e: e.name)
            for entry in entries:
                if _is_junk(entry.name):
                    continue
                rel = rel_root / entry.name
                if entry.is_dir(follow_symlinks=False):  # linked folders are never entered
                    budget.count_entry(str(rel))
                    _check_depth(str(rel), rel, limits, f"the folder {src.name!r}")
                    (dest / rel).mkdir(mode=0o755)
                    pending.append(rel)
                    continue
                st = entry.stat(follow_symlinks=False)
                if not stat.S_ISREG(st.st_mode):
                    continue  # symlinks, fifos, sockets, devices: not content
                budget.count_entry(str(rel))
                _check_depth(str(rel), rel, limits, f"the folder {src.name!r}")
                budget.check_declared(str(rel), st.st_size, None)
                try:
                    fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
                except OSError:
                    continue  # replaced by a link or removed since we looked: not content either
                with os.fdopen(fd, "rb") as fh:
                    _write_new_file(dest / rel, fh, budget, str(rel))
    except BaseException:
        _empty_dir(dest)
        raise


def locate_package(root: Path, package: str) -> Path:
    """The folder under `root` (at most two levels down) that contains `<package>/__init__.py`.

    Loose package files at the top of `root` are gathered into `root/<package>/` first. Raises
    SubmissionError listing what was found when there is no package or more than one at the same depth.
    """
    root = Path(root)
    found = _find_package_root(root, package)
    if found is not None:
        return found
    if (root / "__init__.py").is_file() and not (root / package).exists():
        _gather_loose_files(root, package)
        return root
    raise SubmissionError(_not_found_message(root, package))


# ----------------------------------------------------------------------------------------- zip


def _extract_zip(archive: Path, dest: Path, limits: ExtractionLimits) -> None:
    """Check every header first (names, kinds, declared sizes, ratios), then extract counting bytes."""
    budget = _Budget(limits, f"the archive {archive.name!r}")
    try:
        _check_zip_directory(archive, limits)
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            plan: list[tuple[zipfile.ZipInfo, PurePosixPath, bool]] = []
            for info in infos:
                rel = _safe_relpath(info.filename)
                budget.count_entry(info.filename)
                mode = info.external_attr >> 16
                kind = stat.S_IFMT(mode) if info.create_system == 3 and mode else 0  # 3 = Unix
                if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                    raise SubmissionError(_kind_message(info.filename, kind, archive.name))
                if info.flag_bits & 0x1:
                    raise SubmissionError(
                        f"{info.filename!r} in {archive.name!r} is encrypted; hand in an archive without a password."
                    )
                is_dir = info.filename.endswith("/")  # not info.is_dir(): it fails on an empty name
                if not is_dir:
                    budget.check_declared(info.filename, info.file_size, info.compress_size)
                if rel is not None:
                    _check_depth(info.filename, rel, limits, f"the archive {archive.name!r}")
                    plan.append((info, rel, is_dir))
            for info, rel, is_dir in plan:
                if _is_junk_path(rel):
                    continue
                target = dest.joinpath(*rel.parts)
                if is_dir:
                    _mkdirs(dest, rel.parts)
                    continue
                _mkdirs(dest, rel.parts[:-1])
                with zf.open(info) as fh:
                    _write_new_file(target, fh, budget, info.filename, declared=info.file_size)
    except SubmissionError:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        struct.error,
        EOFError,
        OSError,
        ValueError,
        IndexError,
        KeyError,
        NotImplementedError,
        RuntimeError,
    ) as exc:  # what zipfile raises on hostile input
        raise SubmissionError(_corrupt_message(archive.name, exc)) from None


def _check_zip_directory(archive: Path, limits: ExtractionLimits) -> None:
    """Refuse a central directory too large for `max_files` entries before zipfile reads it: zipfile
    makes a ZipInfo (~0.5 KB) of every entry at open, however many the directory holds."""
    with open(archive, "rb") as f:
        end = zipfile._EndRecData(f)  # type: ignore[attr-defined]  # the end record zipfile itself reads
    if not end:
        return  # zipfile reports it as corrupt
    size = end[zipfile._ECD_SIZE]  # type: ignore[attr-defined]
    entries = end[zipfile._ECD_ENTRIES_TOTAL]  # type: ignore[attr-defined]
    if entries > limits.max_files or size > limits.max_files * _MAX_DIRECTORY_ENTRY:
        raise SubmissionError(
            f"The archive {archive.name!r} lists more than {limits.max_files} files (or a directory of "
            f"{size:,} bytes); hand in only the package folder, without data sets, virtual environments or .git."
        )


# ----------------------------------------------------------------------------------------- tar


def _is_blank(path: Path) -> bool:
    """Whether the file holds nothing but zero bytes (what an empty tar is), reading at most 1 MiB."""
    with open(path, "rb") as f:
        data = f.read(1 << 20)
        whole = f.tell() == path.stat().st_size
    return whole and not data.strip(b"\0")


def _is_tar(path: Path, limits: ExtractionLimits = DEFAULT_LIMITS) -> bool:
    """Whether `path` opens as a (possibly gzip/bz2/xz-compressed) tar archive.

    Its headers are pre-scanned first (SubmissionError on a header bomb): tarfile.open already reads
    the first member, and with it a long-name or pax header of any declared size.
    """
    try:
        if not _scan_tar(path, limits):
            return False
        with _open_tar(path, limits) as tf:
            tf.next()
        return True
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError):
        return False


def _open_decompressed(path: Path) -> BinaryIO:
    """`path` as a stream of tar bytes: gzip, bzip2 and xz are recognised by their magic, as tarfile does."""
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


class _BoundedReads:
    """A stream whose single reads may not exceed `limit` bytes: tarfile reads a long-name or pax
    header's data in one read of the size it declares; this refuses it before the allocation, whatever
    the pre-scan saw. Everything else tarfile and we read comes in blocks or chunks far below it."""

    def __init__(self, raw: BinaryIO, limit: int, name: str) -> None:
        self.raw, self.limit, self.name = raw, limit, name

    def read(self, n: int = -1) -> bytes:
        """Read `n` bytes, refusing n < 0 or n > limit."""
        if n is None or n < 0 or n > self.limit:
            raise SubmissionError(
                f"The archive {self.name!r} has a header larger than {self.limit:,} bytes; "
                f"it is corrupt or malicious: re-create it with `make handin`."
            )
        return self.raw.read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        """Delegate (gzip/bz2/xz streams seek forward by decompressing in small buffers)."""
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        """Delegate."""
        return self.raw.tell()


@contextlib.contextmanager
def _open_tar(path: Path, limits: ExtractionLimits) -> Iterator[tarfile.TarFile]:
    """tarfile over our own decompressed stream, every read bounded (see _BoundedReads)."""
    raw = _open_decompressed(path)
    try:
        limit = max(_blocks(limits.max_meta_bytes), _CHUNK)
        with tarfile.open(fileobj=_BoundedReads(raw, limit, path.name), mode="r:") as tf:  # type: ignore[call-overload]
            yield tf
    finally:
        raw.close()


def _read_at_most(f: BinaryIO, n: int) -> bytes:
    """Exactly `n` bytes of `f` (fewer at its end), read in chunks."""
    parts, left = [], n
    while left > 0:
        chunk = f.read(min(left, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _scan_tar(path: Path, limits: ExtractionLimits) -> bool:
    """Walk a tar's headers with a bounded reader, exactly as tarfile will walk them, refusing what
    would make tarfile allocate before our checks: a long-name or pax header above `max_meta_bytes`,
    sparse members, too many entries, declared sizes over the budget. False if `path` is no tar.

    tarfile reads a GNU long-name ("L"/"K") or pax ("x"/"g") header's data whole (a 1.5 MB .tgz can
    declare 1.6 GB), and a pax "size" record moves where the next header starts; both are followed here.
    """
    budget = _Budget(limits, f"the archive {path.name!r}")
    skip_budget = limits.max_total_bytes + limits.max_files * limits.max_meta_bytes
    scanned = 0
    global_size: int | None = None  # a global pax "size": tarfile applies it only after a local pax header
    local_size: int | None = None
    after_local = False  # a local pax header precedes the next member
    try:
        f = _open_decompressed(path)
    except OSError:
        return False
    with f:
        first = True
        while True:
            try:
                buf = f.read(tarfile.BLOCKSIZE)
                info = tarfile.TarInfo.frombuf(buf, "utf-8", "surrogateescape")
            except (tarfile.HeaderError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError):
                return not first  # the end (or garbage, where tarfile stops too)
            first = False
            budget.count_entry(info.name)
            if info.type in (
                tarfile.GNUTYPE_LONGNAME,
                tarfile.GNUTYPE_LONGLINK,
                tarfile.XHDTYPE,
                tarfile.XGLTYPE,
                tarfile.SOLARIS_XHDTYPE,
            ):
                if info.size > limits.max_meta_bytes:
                    raise SubmissionError(
                        f"The archive {path.name!r} has a header of {info.size:,} bytes (a file name or "
                        f"extended attributes); the limit is {limits.max_meta_bytes:,}. The archive is corrupt "
                        f"or malicious: re-create it with `make handin`."
                    )
                data = _read_at_most(f, _blocks(info.size))[: info.size]
                if info.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE):
                    records = _pax_records(data)
                    if any(k.startswith(b"GNU.sparse") for k in records):
                        raise SubmissionError(
                            f"The archive {path.name!r} holds a sparse file; "
                            f"hand in plain files (re-create it with `make handin`)."
                        )
                    if b"size" in records:
                        try:
                            size = int(records[b"size"])
                        except ValueError:
                            return True  # tarfile refuses it with its own error
                        if info.type == tarfile.XGLTYPE:
                            global_size = size
                        else:
                            local_size = size
                    after_local = after_local or info.type != tarfile.XGLTYPE
                continue
            if info.type == tarfile.GNUTYPE_SPARSE:
                raise SubmissionError(
                    f"The archive {path.name!r} holds a sparse file ({info.name!r}); "
                    f"hand in plain files (re-create it with `make handin`)."
                )
            # Where tarfile looks for the next header: after a local pax header, the merged pax "size"
            # (local, else global); otherwise the header's own size field.
            size = info.size
            if after_local:
                size = local_size if local_size is not None else global_size if global_size is not None else size
            local_size, after_local = None, False
            if info.isreg() or info.type not in tarfile.SUPPORTED_TYPES:  # the members tarfile skips data of
                budget.check_declared(info.name, size, None)
                scanned += _blocks(size)
                if scanned > skip_budget:
                    raise SubmissionError(
                        f"The archive {path.name!r} holds more than "
                        f"{limits.max_total_bytes // _MB} MB; hand in code only."
                    )
                skipped = 0
                while skipped < _blocks(size):
                    chunk = f.read(min(_CHUNK, _blocks(size) - skipped))
                    if not chunk:
                        return True  # truncated: tarfile reports it
                    skipped += len(chunk)


def _blocks(size: int) -> int:
    """`size` rounded up to whole tar blocks."""
    return -(-max(0, size) // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    """The `LEN key=value\\n` records of a pax header (malformed ones end the parse: tarfile refuses them)."""
    records: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            break
        if length <= 0:
            break
        record = data[space + 1 : pos + length - 1]
        key, eq, value = record.partition(b"=")
        if eq:
            records[key] = value
        pos += length
    return records


def _extract_tar(archive: Path, dest: Path, limits: ExtractionLimits) -> None:
    """Stream the members (a tar has no central directory), checking each header before its data.
    Call only after `_is_tar(archive, limits)`, whose header pre-scan keeps tarfile's reads bounded."""
    budget = _Budget(limits, f"the archive {archive.name!r}")
    compressed_size = archive.stat().st_size
    try:
        # errors="surrogateescape" (the default on POSIX) keeps non-UTF-8 names as they are.
        with _open_tar(archive, limits) as tf:
            while True:
                member = tf.next()  # one at a time: never build the list of a million-entry bomb
                if member is None:
                    break
                budget.count_entry(member.name)
                rel = _safe_relpath(member.name)
                if member.issym() or member.islnk():
                    raise SubmissionError(
                        f"{member.name!r} in {archive.name!r} is a link (to {member.linkname!r}); "
                        f"links are not allowed in a handin. Archive the files themselves."
                    )
                if not (member.isreg() or member.isdir()):
                    raise SubmissionError(_kind_message(member.name, _tar_kind(member), archive.name))
                if member.isreg():
                    budget.check_declared(member.name, member.size, None)
                if rel is None or _is_junk_path(rel):
                    continue
                _check_depth(member.name, rel, limits, f"the archive {archive.name!r}")
                if member.isdir():
                    _mkdirs(dest, rel.parts)
                    continue
                _mkdirs(dest, rel.parts[:-1])
                fh = tf.extractfile(member)
                assert fh is not None, "regular members always have data"
                with fh:
                    _write_new_file(dest.joinpath(*rel.parts), fh, budget, member.name, declared=member.size)
                # A .tar.gz bomb compresses its zeros; compare what came out with the file we got.
                if budget.total > limits.ratio_floor_bytes and budget.total > limits.max_ratio * compressed_size:
                    raise SubmissionError(
                        f"The archive {archive.name!r} expands more than {limits.max_ratio:g} times; "
                        f"that looks like a zip bomb, not a homework."
                    )
    except SubmissionError:
        raise
    except (
        tarfile.TarError,
        zlib.error,
        lzma.LZMAError,
        struct.error,
        EOFError,
        OSError,
        ValueError,
        IndexError,
        KeyError,
    ) as exc:
        raise SubmissionError(_corrupt_message(archive.name, exc)) from None


def _tar_kind(member: tarfile.TarInfo) -> int:
    """The stat file type of a tar member, for messages."""
    if member.ischr():
        return stat.S_IFCHR
    if member.isblk():
        return stat.S_IFBLK
    if member.isfifo():
        return stat.S_IFIFO
    return -1


# ------------------------------------------------------------------------------------- helpers


class _Budget:
    """Counts entries and bytes against the limits; raises SubmissionError naming the culprit."""

    def __init__(self, limits: ExtractionLimits, what: str) -> None:
        self.limits, self.what = limits, what
        self.What = what[:1].upper() + what[1:]  # the same, starting a sentence
        self.entries = 0
        self.total = 0  # bytes actually written
        self.declared_total = 0  # bytes the headers announce

    def count_entry(self, name: str) -> None:
        """One more entry of any kind."""
        self.entries += 1
        if self.entries > self.limits.max_files:
            raise SubmissionError(
                f"{self.What} has more than {self.limits.max_files} files (stopped at {name!r}); "
                f"hand in only the package folder, without data sets, virtual environments or .git."
            )

    def check_declared(self, name: str, size: int, compressed: int | None) -> None:
        """Refuse on the sizes a header declares, before reading any data."""
        self._check_file(name, size)
        self.declared_total += size
        self._check_total(name, self.declared_total)
        if compressed is not None and size > self.limits.ratio_floor_bytes:
            if compressed == 0 or size / compressed > self.limits.max_ratio:
                raise SubmissionError(
                    f"{name!r} in {self.what} expands from {compressed:,} to {size:,} bytes; "
                    f"that looks like a zip bomb, not a homework."
                )

    def add_bytes(self, name: str, file_bytes: int, n: int) -> None:
        """Count `n` more bytes produced for file `name` (now `file_bytes` long): headers can lie."""
        self.total += n
        self._check_file(name, file_bytes)
        self._check_total(name, self.total)

    def _check_file(self, name: str, size: int) -> None:
        if size > self.limits.max_file_bytes:
            raise SubmissionError(
                f"{name!r} in {self.what} is larger than {self.limits.max_file_bytes // _MB} MB; "
                f"hand in code only (no data sets, checkpoints or logs)."
            )

    def _check_total(self, name: str, total: int) -> None:
        if total > self.limits.max_total_bytes:
            raise SubmissionError(
                f"{self.What} holds more than {self.limits.max_total_bytes // _MB} MB of files "
                f"(limit reached at {name!r}); hand in code only."
            )


def _safe_relpath(name: str) -> PurePosixPath | None:
    """The entry name as a path relative to the destination, or SubmissionError if it could escape.

    Backslashes count as separators (Windows tools write them); None means the entry is the
    root itself ("./"), which has nothing to create.
    """
    if "\x00" in name:
        raise SubmissionError(f"An entry name contains a NUL byte ({name!r}); the archive is corrupt or malicious.")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) >= 2 and norm[1] == ":" and norm[0].isalpha()):
        raise SubmissionError(
            f"{name!r} is an absolute path; an archive must hold relative paths (zip the folder, not its full path)."
        )
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SubmissionError(f"{name!r} contains '..'; an archive may not write outside its own folder.")
    return PurePosixPath(*parts) if parts else None


def _check_depth(name: str, rel: PurePosixPath, limits: ExtractionLimits, what: str) -> None:
    """Refuse a path more than `max_depth` folders deep (deep trees exhaust recursion and PATH_MAX)."""
    if len(rel.parts) > limits.max_depth:
        shown = name if len(name) <= 120 else name[:60] + "..." + name[-40:]
        raise SubmissionError(
            f"{shown!r} in {what} is nested {len(rel.parts) - 1} folders deep; the limit is "
            f"{limits.max_depth - 1}. Hand in the package folder as it is (a folder that contains itself?)."
        )


def _is_junk(name: str) -> bool:
    """Whether one path component is OS/editor junk (macOS resource forks included)."""
    return name in JUNK_NAMES or name.endswith(JUNK_SUFFIXES) or name.startswith("._")


def _is_junk_path(rel: PurePosixPath) -> bool:
    """Whether any component of `rel` is junk: `__MACOSX/pkg/x.py` is junk as a whole."""
    return any(_is_junk(p) for p in rel.parts)


def _mkdirs(dest: Path, parts: tuple[str, ...]) -> None:
    """Create dest/parts... one level at a time, refusing to pass through anything but our own dirs."""
    current = dest
    for part in parts:
        current = current / part
        try:
            current.mkdir(mode=0o755)
        except FileExistsError:
            if current.is_symlink() or not current.is_dir():
                raise SubmissionError(f"{'/'.join(parts)!r} is both a file and a folder in the archive.") from None


def _write_new_file(target: Path, fh: IO[bytes], budget: _Budget, name: str, declared: int | None = None) -> None:
    """Copy `fh` into a new file `target` (never an existing one, never through a link), counting bytes."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        fd = os.open(target, flags, 0o644)
    except FileExistsError:
        raise SubmissionError(f"{name!r} appears twice in the submission (or as both a file and a folder).") from None
    written = 0
    with os.fdopen(fd, "wb") as out:
        for chunk in _chunks(fh):
            written += len(chunk)
            budget.add_bytes(name, written, len(chunk))
            if declared is not None and written > declared:
                raise SubmissionError(
                    f"{name!r} holds more data than its header says; the archive is corrupt or malicious."
                )
            out.write(chunk)


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    """Read `fh` in fixed-size chunks so one huge member never sits in memory."""
    while True:
        chunk = fh.read(_CHUNK)
        if not chunk:
            return
        yield chunk


def _make_empty_dir(dest: Path) -> None:
    """Create `dest` (and parents); refuse a non-empty one so nothing of a previous run mixes in."""
    dest.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink() or any(dest.iterdir()):
        raise ValueError(f"destination {dest} must be a new or empty folder")


def _empty_dir(dest: Path) -> None:
    """Remove whatever a failed extraction left in `dest` (never raises: it runs while cleaning up)."""
    try:
        if not dest.is_dir() or dest.is_symlink():
            return
        for child in list(dest.iterdir()):
            remove_tree(child)
    except OSError:
        pass


def _lone_archive(folder: Path) -> Path | None:
    """The single archive file at the top of `folder`, if that is all it holds (besides junk)."""
    entries = [p for p in folder.iterdir() if not _is_junk(p.name)]
    if len(entries) == 1 and entries[0].is_file() and entries[0].name.lower().endswith(ARCHIVE_SUFFIXES):
        return entries[0]
    return None


def _find_package_root(root: Path, package: str) -> Path | None:
    """The shallowest folder (depth 0..2) holding `<package>/__init__.py`; SubmissionError if ambiguous."""
    level = [root]
    for _depth in range(3):
        hits = [d for d in level if (d / package / "__init__.py").is_file() and not (d / package).is_symlink()]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            where = ", ".join(repr(str((h / package).relative_to(root))) for h in hits)
            raise SubmissionError(f"Found more than one {package!r} package ({where}); hand in exactly one.")
        level = [
            c for d in level for c in sorted(d.iterdir()) if c.is_dir() and not c.is_symlink() and not _is_junk(c.name)
        ]
    return None


def _gather_loose_files(root: Path, package: str) -> None:
    """Move the top-level entries of `root` into a new `root/<package>/` (files handed in one by one)."""
    children = list(root.iterdir())
    pkg = root / package
    pkg.mkdir(mode=0o755)
    for child in children:
        child.rename(pkg / child.name)


def _not_found_message(root: Path, package: str) -> str:
    """Say what we looked for, what we found, and the likely fix."""
    listing = _listing(root)
    found = ", ".join(repr(x) for x in listing[:20]) + (", ..." if len(listing) > 20 else "")
    msg = f"No folder {package + '/'!r} containing __init__.py was found in your submission."
    msg += f" Found: {found}." if listing else " The submission is empty."
    near = [x for x in listing if x.rstrip("/").split("/")[-1].lower() == package.lower()]
    packages = [x for x in listing if x.endswith("/__init__.py")]
    if near:
        msg += f" Found {near[0]!r}: the folder must be named {package!r} exactly (lower case) and contain __init__.py."
    elif packages:
        other = packages[0][: -len("__init__.py")]
        msg += f" Found the package folder {other!r}: rename it to {package + '/'!r}."
    else:
        msg += f" Hand in the {package!r} folder itself (e.g. with `make handin`), not a parent folder or single files."
    return msg


def _listing(root: Path) -> list[str]:
    """Paths one and two levels down, folders marked with '/', for the not-found message."""
    out: list[str] = []
    for child in sorted(root.iterdir()):
        if child.is_dir() and not child.is_symlink():
            out.append(child.name + "/")
            out.extend(f"{child.name}/{g.name}" + ("/" if g.is_dir() else "") for g in sorted(child.iterdir()))
        else:
            out.append(child.name)
    return [x.encode("utf-8", "backslashreplace").decode("utf-8") for x in out]


def _kind_message(name: str, kind: int, archive: str) -> str:
    """Message for an entry that is neither a file nor a folder."""
    what = {
        stat.S_IFLNK: "a symbolic link",
        stat.S_IFCHR: "a character device",
        stat.S_IFBLK: "a block device",
        stat.S_IFIFO: "a named pipe (fifo)",
        stat.S_IFSOCK: "a socket",
    }.get(kind, "neither a file nor a folder")
    return f"{name!r} in {archive!r} is {what}; a handin may contain only files and folders."


def _corrupt_message(archive: str, exc: BaseException) -> str:
    """Message for an archive the stdlib cannot read."""
    return (
        f"The archive {archive!r} is corrupt or unsupported ({type(exc).__name__}: {exc}). "
        f"Re-create it with `make handin` and upload it again."
    )
