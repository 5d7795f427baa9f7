"""archive.py: every refusal with a crafted archive, package finding, junk, and a property test."""

from __future__ import annotations

import io
import os
import stat
import struct
import tarfile
import tempfile
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from autograder.framework.archive import (
    ExtractionLimits,
    SubmissionError,
    copy_folder,
    extract_archive,
    prepare_submission,
)

PKG = "mytorch"
SMALL = ExtractionLimits(
    max_files=50, max_total_bytes=400_000, max_file_bytes=200_000, max_ratio=50, ratio_floor_bytes=50_000
)


# ------------------------------------------------------------------------------ builders


def make_zip(path: Path, entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A zip whose entry names are written exactly as given (no sanitising)."""
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression  # a ZipInfo ignores the archive's default
            zf.writestr(info, data)
    with zipfile.ZipFile(path) as zf:  # the crafted names must really be in the archive
        assert zf.namelist() == list(entries)
    return path


def zip_symlink(path: Path, name: str, target: str) -> Path:
    """A zip holding one Unix symlink entry (mode in the high 16 bits of external_attr)."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo(f"{PKG}/__init__.py"), b"")
        zf.writestr(info, target)
    return path


def tar_add(tf: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    """Add one member of any type with exactly this name."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def make_tar(path: Path, members: list[tuple], mode: str = "w") -> Path:
    """A tar (mode "w", "w:gz") with members (name, data[, kind[, link]])."""
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT) as tf:
        for m in members:
            tar_add(tf, *m)
    return path


def package_files(prefix: str = "") -> dict[str, bytes]:
    """A minimal package: __init__ plus one module, under `prefix`."""
    return {
        f"{prefix}{PKG}/__init__.py": b"from .tensor import Tensor\n",
        f"{prefix}{PKG}/tensor.py": b"class Tensor: pass\n",
    }


def all_paths(root: Path) -> set[str]:
    """Every path under root, relative, folders included."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """tmp/box/dest is where we extract; tmp/box must hold nothing else afterwards."""
    (tmp_path / "box").mkdir()
    return tmp_path / "box"


def assert_refused(src: Path, box: Path, *words: str, limits: ExtractionLimits = SMALL) -> str:
    """prepare_submission refuses `src`, the message has `words`, and nothing exists but an empty dest."""
    dest = box / "dest"
    with pytest.raises(SubmissionError) as info:
        prepare_submission(src, dest, PKG, limits)
    msg = str(info.value)
    for w in words:
        assert w.lower() in msg.lower(), msg
    assert sorted(os.listdir(box)) == ["dest"] and os.listdir(dest) == [], all_paths(box)
    return msg


# ------------------------------------------------------------------------------ happy paths


@pytest.mark.parametrize("prefix", ["", "handin/", "hw1/handin/"])
def test_zip_package_found_at_depth(tmp_path: Path, box: Path, prefix: str) -> None:
    src = make_zip(tmp_path / "h.zip", package_files(prefix))
    root = prepare_submission(src, box / "dest", PKG)
    assert root == (box / "dest").joinpath(*prefix.split("/"))
    assert (root / PKG / "tensor.py").read_bytes() == b"class Tensor: pass\n"


def test_too_deep_package_is_not_found(tmp_path: Path, box: Path) -> None:
    src = make_zip(tmp_path / "h.zip", package_files("a/b/c/"))
    assert_refused(src, box, "No folder 'mytorch/'", "a/")


@pytest.mark.parametrize("mode, suffix", [("w", ".tar"), ("w:gz", ".tar.gz"), ("w:gz", ".tgz")])
def test_tar_formats(tmp_path: Path, box: Path, mode: str, suffix: str) -> None:
    src = make_tar(tmp_path / f"h{suffix}", [(n, d) for n, d in package_files("sub/").items()], mode)
    root = prepare_submission(src, box / "dest", PKG)
    assert root == box / "dest" / "sub"
    assert (root / PKG / "__init__.py").read_bytes().startswith(b"from .tensor")


def test_junk_is_dropped(tmp_path: Path, box: Path) -> None:
    entries = package_files("handin/")
    entries.update(
        {
            "__MACOSX/handin/mytorch/._tensor.py": b"\x00\x05\x16\x07",
            "handin/.DS_Store": b"junk",
            "handin/mytorch/__pycache__/tensor.cpython-310.pyc": b"\x6f\x0d",
            "handin/mytorch/old.pyc": b"\x6f\x0d",
            "handin/mytorch/._tensor.py": b"\x00\x05",
        }
    )
    root = prepare_submission(make_zip(tmp_path / "h.zip", entries), box / "dest", PKG)
    assert root == box / "dest" / "handin"
    assert all_paths(box / "dest") == {
        "handin",
        "handin/mytorch",
        "handin/mytorch/__init__.py",
        "handin/mytorch/tensor.py",
    }


def test_non_utf8_names_and_crlf_are_fine(tmp_path: Path, box: Path) -> None:
    src = tmp_path / "h.tar"
    with tarfile.open(src, "w", format=tarfile.GNU_FORMAT, encoding="latin-1") as tf:
        tar_add(tf, f"{PKG}/__init__.py", b"x = 1\r\ny = 2\r\n")
        tar_add(tf, f"{PKG}/notes_\udce9t\udce9.txt", b"caf\xe9\r\n")  # raw byte 0xE9: not UTF-8
    root = prepare_submission(src, box / "dest", PKG)
    assert (root / PKG / "__init__.py").read_bytes() == b"x = 1\r\ny = 2\r\n"
    assert sorted(os.fsencode(n) for n in os.listdir(root / PKG)) == [b"__init__.py", b"notes_\xe9t\xe9.txt"]
    zsrc = tmp_path / "h.zip"
    with zipfile.ZipFile(zsrc, "w") as zf:  # no UTF-8 flag: zipfile decodes the name as cp437
        info = zipfile.ZipInfo(f"{PKG}/__init__.py")
        zf.writestr(info, b"a = 1\r\n")
        zf.writestr(zipfile.ZipInfo(f"{PKG}/r\u00e9sum\u00e9.txt"), b"ok")
    root = prepare_submission(zsrc, box / "dest2", PKG)
    assert (root / PKG / "__init__.py").read_bytes() == b"a = 1\r\n"


def test_folder_copy_skips_symlinks(tmp_path: Path, box: Path) -> None:
    secret = tmp_path / "reference"
    (secret / PKG).mkdir(parents=True)
    (secret / PKG / "answers.py").write_text("ANSWER = 42\n")
    src = tmp_path / "handin"
    (src / PKG).mkdir(parents=True)
    (src / PKG / "__init__.py").write_text("")
    (src / PKG / "answers.py").symlink_to(secret / PKG / "answers.py")
    (src / PKG / "ref").symlink_to(secret / PKG, target_is_directory=True)
    os.mkfifo(src / PKG / "pipe")
    (src / PKG / "__pycache__").mkdir()
    (src / PKG / "__pycache__" / "x.pyc").write_bytes(b"\0")
    root = prepare_submission(src, box / "dest", PKG)
    assert all_paths(root) == {PKG, f"{PKG}/__init__.py"}
    assert not any(p.is_symlink() for p in root.rglob("*"))


def test_folder_copy_obeys_limits(tmp_path: Path, box: Path) -> None:
    src = tmp_path / "handin"
    (src / PKG).mkdir(parents=True)
    (src / PKG / "__init__.py").write_text("")
    (src / PKG / "weights.npy").write_bytes(b"\0" * (SMALL.max_file_bytes + 1))
    assert_refused(src, box, "weights.npy", "larger than")


def test_lone_archive_in_folder_is_extracted(tmp_path: Path, box: Path) -> None:
    src = tmp_path / "submission"
    src.mkdir()
    make_zip(src / "handin.zip", package_files())
    root = prepare_submission(src, box / "dest", PKG)
    assert (root / PKG / "tensor.py").is_file()
    assert not (box / "dest" / "handin.zip").exists()


def test_loose_files_are_gathered(tmp_path: Path, box: Path) -> None:
    src = tmp_path / "submission"
    src.mkdir()
    (src / "__init__.py").write_text("")
    (src / "tensor.py").write_text("class Tensor: pass\n")
    root = prepare_submission(src, box / "dest", PKG)
    assert all_paths(root) == {PKG, f"{PKG}/__init__.py", f"{PKG}/tensor.py"}


# ------------------------------------------------------------------------------ refusals


def test_wrongly_named_package(tmp_path: Path, box: Path) -> None:
    src = make_zip(tmp_path / "h.zip", {"MyTorch/__init__.py": b"", "README.md": b"hi"})
    msg = assert_refused(src, box, "'MyTorch/'", "must be named 'mytorch'")
    assert "README.md" in msg


def test_renamed_package_is_named(tmp_path: Path, box: Path) -> None:
    src = make_zip(tmp_path / "h.zip", {"hw1/__init__.py": b"", "hw1/tensor.py": b""})
    assert_refused(src, box, "rename it to 'mytorch/'", "'hw1/'")


def test_two_packages_at_same_depth(tmp_path: Path, box: Path) -> None:
    src = make_zip(tmp_path / "h.zip", {**package_files("v1/"), **package_files("v2/")})
    assert_refused(src, box, "more than one", "v1/mytorch", "v2/mytorch")


def test_empty_archives(tmp_path: Path, box: Path) -> None:
    assert_refused(make_zip(tmp_path / "e.zip", {}), box, "empty")
    assert_refused(make_tar(tmp_path / "e.tar", []), box, "empty")


def test_corrupt_archives(tmp_path: Path, box: Path) -> None:
    good = make_zip(tmp_path / "g.zip", {f"{PKG}/__init__.py": b"x = 1\n" * 1000})
    data = bytearray(good.read_bytes())
    data[60:90] = b"\xff" * 30  # inside the compressed data of the only member
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    assert_refused(bad, box, "corrupt")
    junk = tmp_path / "handin.zip"
    junk.write_bytes(b"this is not an archive at all" * 10)
    assert_refused(junk, box, "not a zip or tar")
    tgz = make_tar(tmp_path / "t.tar.gz", list(package_files().items()), "w:gz")
    trunc = tmp_path / "trunc.tar.gz"
    trunc.write_bytes(tgz.read_bytes()[:-30])
    assert_refused(trunc, box, "corrupt")


@pytest.mark.parametrize(
    "name", ["/tmp/evil_abs.py", "C:\\evil.py", "../evil.py", "mytorch/../../evil.py", "..\\evil.py"]
)
def test_escaping_names_are_refused_zip(tmp_path: Path, box: Path, name: str) -> None:
    src = make_zip(tmp_path / "h.zip", {**package_files(), name: b"pwned"})
    assert_refused(src, box, repr(name))
    assert not Path("/tmp/evil_abs.py").exists() and not (tmp_path / "evil.py").exists()


@pytest.mark.parametrize("name", ["/tmp/evil_abs_tar.py", "../evil.py", "a/../../evil.py"])
def test_escaping_names_are_refused_tar(tmp_path: Path, box: Path, name: str) -> None:
    src = make_tar(tmp_path / "h.tar", [*package_files().items(), (name, b"pwned")])
    assert_refused(src, box, "absolute" if name.startswith("/") else "'..'")
    assert not Path("/tmp/evil_abs_tar.py").exists() and not (tmp_path / "evil.py").exists()


@pytest.mark.parametrize(
    "kind, link",
    [(tarfile.SYMTYPE, "/etc/passwd"), (tarfile.SYMTYPE, "tensor.py"), (tarfile.LNKTYPE, "mytorch/__init__.py")],
)
def test_tar_links_are_refused(tmp_path: Path, box: Path, kind: bytes, link: str) -> None:
    src = make_tar(tmp_path / "h.tar", [*package_files().items(), (f"{PKG}/link.py", b"", kind, link)])
    assert_refused(src, box, "link")


def test_zip_symlink_is_refused(tmp_path: Path, box: Path) -> None:
    assert_refused(zip_symlink(tmp_path / "h.zip", f"{PKG}/ref.py", "/work/main/solutions"), box, "symbolic link")


@pytest.mark.parametrize(
    "kind, word", [(tarfile.FIFOTYPE, "fifo"), (tarfile.CHRTYPE, "device"), (tarfile.BLKTYPE, "device")]
)
def test_special_files_are_refused(tmp_path: Path, box: Path, kind: bytes, word: str) -> None:
    src = make_tar(tmp_path / "h.tar", [*package_files().items(), (f"{PKG}/dev", b"", kind)])
    assert_refused(src, box, word)


def test_too_many_files_default_limit(tmp_path: Path, box: Path) -> None:
    entries = package_files()
    entries.update({f"{PKG}/data/f{i}.txt": b"" for i in range(2_000)})
    assert_refused(
        make_zip(tmp_path / "h.zip", entries, zipfile.ZIP_STORED),
        box,
        "more than 2000 files",
        limits=ExtractionLimits(),
    )


def test_file_too_large_by_header(tmp_path: Path, box: Path) -> None:
    entries = {**package_files(), f"{PKG}/big.bin": os.urandom(SMALL.max_file_bytes + 1)}
    assert_refused(make_zip(tmp_path / "h.zip", entries, zipfile.ZIP_STORED), box, "big.bin", "larger than")


def test_total_too_large(tmp_path: Path, box: Path) -> None:
    entries = {**package_files(), **{f"{PKG}/part{i}.bin": os.urandom(150_000) for i in range(3)}}
    assert_refused(make_tar(tmp_path / "h.tar", list(entries.items())), box, "MB of files")


def test_zip_bomb_ratio_default_limits(tmp_path: Path, box: Path) -> None:
    entries = {**package_files(), f"{PKG}/zeros.bin": b"\0" * (5 << 20)}  # 5 MB -> ~5 KB: ratio ~1000
    assert_refused(make_zip(tmp_path / "h.zip", entries), box, "zip bomb", limits=ExtractionLimits())


def test_tgz_bomb_counted_while_extracting(tmp_path: Path, box: Path) -> None:
    entries = {**package_files(), **{f"{PKG}/z{i}.bin": b"\0" * 100_000 for i in range(3)}}
    assert_refused(make_tar(tmp_path / "h.tgz", list(entries.items()), "w:gz"), box, "zip bomb")


def test_lying_zip_header_is_caught(tmp_path: Path, box: Path) -> None:
    """A header that declares 10 bytes for 300 KB of data: refused, and at most 10 bytes written."""
    src = make_zip(tmp_path / "h.zip", {**package_files(), f"{PKG}/lie.bin": b"\0" * 300_000})
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo(f"{PKG}/lie.bin")
    struct.pack_into("<I", data, info.header_offset + 22, 10)  # local header: uncompressed size
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) != -1:  # every central header: patch the one for lie.bin
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + name_len] == f"{PKG}/lie.bin".encode():
            struct.pack_into("<I", data, pos + 24, 10)
        pos += 4
    src.write_bytes(bytes(data))
    with zipfile.ZipFile(src) as zf:
        assert zf.getinfo(f"{PKG}/lie.bin").file_size == 10  # the lie is in place
    assert_refused(src, box, "corrupt")


def test_destination_must_be_empty(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "old").write_text("x")
    with pytest.raises(ValueError):
        extract_archive(make_zip(tmp_path / "h.zip", package_files()), dest)
    with pytest.raises(ValueError):
        copy_folder(tmp_path, dest)


# ------------------------------------------------------------------------------ property


COMPONENTS = ["a", "b", "mytorch", "__init__.py", "..", ".", "", "é", "日本", "x\\..\\y", "C:", "__MACOSX", "\udcff"]
ENTRY = st.tuples(
    st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=4),  # path components
    st.booleans(),  # absolute?
    st.sampled_from(["file", "dir", "symlink", "hardlink", "fifo"]),
    st.integers(min_value=0, max_value=120_000),  # size
    st.sampled_from(["../../outside", "/etc/passwd", "a", "mytorch/__init__.py", "."]),  # link target
)


def _build(path: Path, fmt: str, entries: list[tuple], abs_root: str) -> None:
    """Write the generated entries as a zip or tar, names taken literally."""
    if fmt == "zip":
        with warnings.catch_warnings(), zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            warnings.simplefilter("ignore", UserWarning)  # duplicate names are part of the attack surface
            for parts, absolute, kind, size, target in entries:
                name = (abs_root + "/" if absolute else "") + "/".join(parts)
                name = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                if kind == "dir":
                    name += "/"
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                data = b"\0" * size
                if kind in ("symlink", "hardlink"):
                    info.create_system, info.external_attr, data = 3, (stat.S_IFLNK | 0o777) << 16, target.encode()
                elif kind == "fifo":
                    info.create_system, info.external_attr = 3, (stat.S_IFIFO | 0o644) << 16
                zf.writestr(info, data)
    else:
        with tarfile.open(path, "w:gz" if fmt == "tgz" else "w", format=tarfile.GNU_FORMAT) as tf:
            for parts, absolute, kind, size, target in entries:
                name = (abs_root + "/" if absolute else "") + "/".join(parts)
                kinds = {
                    "file": tarfile.REGTYPE,
                    "dir": tarfile.DIRTYPE,
                    "symlink": tarfile.SYMTYPE,
                    "hardlink": tarfile.LNKTYPE,
                    "fifo": tarfile.FIFOTYPE,
                }
                tar_add(tf, name, b"\0" * size if kind == "file" else b"", kinds[kind], target)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(["zip", "tar", "tgz"]), entries=st.lists(ENTRY, min_size=0, max_size=8))
# Pinned examples so that both outcomes are always exercised, whatever hypothesis draws.
@example(fmt="zip", entries=[(["mytorch", "__init__.py"], False, "file", 10, "a")])
@example(fmt="tgz", entries=[(["mytorch", "é"], False, "file", 10, "a"), (["..", "x"], False, "file", 1, "a")])
@example(fmt="tar", entries=[(["a"], True, "file", 10, "a")])
def test_property_extraction_stays_inside(fmt: str, entries: list[tuple]) -> None:
    """Whatever the entries: success with every file inside dest, or SubmissionError; never a write outside."""
    limits = ExtractionLimits(
        max_files=6, max_total_bytes=250_000, max_file_bytes=100_000, max_ratio=50, ratio_floor_bytes=60_000
    )
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        (tmp / "box").mkdir()
        abs_root = str(tmp / "abs")
        archive = tmp / f"gen.{fmt}"
        _build(archive, fmt, entries, abs_root)
        dest = tmp / "box" / "dest"
        try:
            extract_archive(archive, dest, limits)
            ok = True
        except SubmissionError as exc:
            ok = False
            assert str(exc) and os.listdir(dest) == []
        assert sorted(os.listdir(tmp)) == sorted(["box", archive.name])  # nothing beside the box, no abs/
        assert os.listdir(tmp / "box") == ["dest"]
        real_dest = os.path.realpath(dest)
        for root, dirs, files in os.walk(dest):
            for name in dirs + files:
                p = os.path.join(root, name)
                st_ = os.lstat(p)
                assert stat.S_ISREG(st_.st_mode) or stat.S_ISDIR(st_.st_mode), p
                assert os.path.realpath(p).startswith(real_dest + os.sep)
        if ok:
            assert any(os.scandir(dest))
