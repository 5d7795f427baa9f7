"""A disk cache of the reference's answers, so grading a class computes each answer once per input bucket.

Tests draw their inputs from generators seeded per test and per handin bucket (harness.seed_for,
grade.input_salt), so the handins of one bucket ask the reference the same questions. The answers
depend only on the reference package, the scenarios and the data files; the cache key hashes all of
those with the scenario name and its arguments, so editing any of them simply misses the cache.
Entries are stored with the data-only channel encoding (never pickled), in a folder only the grader
(root, when sandboxed) can write.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from autograder.framework import channel

# Entries hold {"value": answer, "seconds": the reference's CPU time for it} (student deadlines scale
# from it; CPU time does not depend on the machine's load); the format is part of the key, so entries
# of an older format simply miss.
ENTRY_FORMAT = "timed-1"


def fingerprint(files: Iterable[Path]) -> str:
    """A hash of the names and contents of `files` (folders are walked for *.py and data)."""
    h = hashlib.sha256()
    for path in files:
        path = Path(path)
        members = (
            sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            if path.is_dir()
            else [path]
        )
        for member in members:
            if member.exists():
                h.update(os.fsencode(member.relative_to(path.parent)))  # a file name need not be UTF-8
                h.update(member.read_bytes())
    return h.hexdigest()


class CachedReference:
    """Wraps a reference runner: `run` answers from the cache when it can, `function` passes through."""

    def __init__(self, runner: Any, cache_dir: Path, version: str) -> None:
        self._runner, self._dir, self._version = runner, Path(cache_dir), version
        self.hits = self.misses = 0

    def _key(self, scenario: str, kwargs: dict[str, Any]) -> str:
        """The cache file name: a hash of the reference version, the scenario and its arguments."""
        return channel.call_key(scenario, kwargs, salt=f"{self._version}/{ENTRY_FORMAT}")

    def run(self, scenario: str, **kwargs: Any) -> Any:
        """The reference's answer to `scenario(**kwargs)`, computed once per reference version."""
        return self.run_timed(scenario, **kwargs)[0]

    def run_timed(self, scenario: str, **kwargs: Any) -> tuple[Any, float]:
        """(answer, the reference's CPU time for it), computed once per reference version."""
        path = self._dir / f"{self._key(scenario, kwargs)}.npz"
        try:
            entry = channel.decode(path.read_bytes())
            value, seconds = entry["value"], float(entry["seconds"])
        except (OSError, channel.ChannelError, ValueError, TypeError, KeyError):
            pass
        else:
            self.hits += 1
            return value, seconds
        value, seconds = self._timed(scenario, kwargs)
        self.misses += 1
        self._store(path, {"value": value, "seconds": float(seconds)})
        return value, seconds

    def _timed(self, scenario: str, kwargs: dict[str, Any]) -> tuple[Any, float]:
        """(answer, seconds) computed now by the wrapped runner."""
        timed = getattr(self._runner, "run_timed", None)
        if timed is not None:
            return timed(scenario, **kwargs)
        start = time.thread_time()  # CPU time, as the worker's deadlines are counted
        value = self._runner.run(scenario, **kwargs)
        return value, time.thread_time() - start

    def _store(self, path: Path, value: Any) -> None:
        """Write atomically; an answer that is not plain data (or a full disk) is just not cached."""
        try:
            data = channel.encode(value)
            self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self._dir, suffix=".tmp")
        except (OSError, channel.ChannelError):
            return
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError:  # a full disk: drop the partial file rather than leave it in the cache folder
            Path(tmp).unlink(missing_ok=True)

    def function(self, scenario: str, **kwargs: Any) -> Callable[..., Any]:
        """Numerical checks evaluate the reference at perturbed inputs: never cached."""
        return self._runner.function(scenario, **kwargs)


def default_cache_dir() -> Path:
    """$AUTOGRADER_CACHE_DIR, else ~/.cache/autograder/reference (the grader's own home)."""
    env = os.environ.get("AUTOGRADER_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "autograder" / "reference"
