"""Deleting folder trees a student made: any depth, bounded, never raising (used by archive and sandbox)."""

from __future__ import annotations

import os
import stat
import sys
import time

REMOVE_MAX_ENTRIES = 200_000  # a cleanup gives up (and says so) past this many entries or seconds
REMOVE_MAX_SECONDS = 20.0


def remove_tree(
    path: str | os.PathLike, max_entries: int = REMOVE_MAX_ENTRIES, max_seconds: float = REMOVE_MAX_SECONDS
) -> bool:
    """Delete a file or folder tree iteratively, without following links; True when it is gone.

    Built for trees a student made: any depth (no recursion, and paths relative to an open folder,
    so 3,000 levels neither raise RecursionError nor hit PATH_MAX), folders without permissions
    (made writable first), a bounded number of entries and seconds. Climbing back up checks that the
    parent is the folder it came from, so a concurrent rename cannot lead it into another folder.
    Never raises: a failure is printed for the staff and must not fail anyone's grade.
    """
    try:
        return _remove_tree(os.fspath(path), max_entries, time.monotonic() + max_seconds)
    except Exception as e:  # noqa: BLE001 - cleanup must never break a grade
        print(f"autograder: cleanup of {os.fspath(path)!r} failed: {e!r}", file=sys.stderr)
        return False


def open_dir(name: str, dir_fd: int | None) -> int:
    """Open a folder (never through a link) to list or empty it; without root, make it ours to list first (0700)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except PermissionError:
        os.chmod(name, 0o700, dir_fd=dir_fd)
        fd = os.open(name, flags, dir_fd=dir_fd)
    if os.geteuid() != 0:
        try:
            os.fchmod(fd, 0o700)  # read-only copies (0555) cannot be emptied otherwise
        except OSError:
            pass
    return fd


def _remove_tree(path: str, max_entries: int, deadline: float) -> bool:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return True
    top = os.path.realpath(path)
    fd = open_dir(top, None)
    stack: list[tuple[str, tuple[int, int]]] = []  # (name in parent, parent's (dev, ino))
    count = 0
    try:
        while True:
            if count > max_entries or time.monotonic() > deadline:
                print(f"autograder: cleanup of {path!r} stopped after {count} entries", file=sys.stderr)
                return False
            child = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    count += 1
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    try:
                        os.unlink(entry.name, dir_fd=fd)
                    except FileNotFoundError:
                        pass
            if child is not None:
                here = os.fstat(fd)
                try:
                    sub = open_dir(child, fd)
                except FileNotFoundError:
                    continue
                stack.append((child, (here.st_dev, here.st_ino)))
                os.close(fd)
                fd = sub
                continue
            if not stack:
                break
            name, expected = stack.pop()
            parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
            pst = os.fstat(parent)
            os.close(fd)
            fd = parent
            if (pst.st_dev, pst.st_ino) != expected:
                raise RuntimeError("a folder was moved during cleanup")
            os.rmdir(name, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(top)
    return True
