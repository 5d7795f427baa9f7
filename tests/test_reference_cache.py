"""The reference-answer cache: same question, same answer, computed once; any change misses."""

from pathlib import Path

import numpy as np

from autograder.framework.reference_cache import CachedReference, fingerprint


class CountingRunner:
    """A stand-in reference that counts how often it is really asked."""

    def __init__(self) -> None:
        self.calls = 0

    def run(self, scenario, **kwargs):
        self.calls += 1
        return {"out": kwargs["x"] * 2, "n": float(kwargs["x"].sum()), "tag": scenario}

    def function(self, scenario, **kwargs):
        return lambda **over: ("live", scenario, over)


def test_second_ask_is_answered_from_disk_with_equal_values(tmp_path: Path):
    runner = CountingRunner()
    x = np.arange(6.0).reshape(2, 3)
    first = CachedReference(runner, tmp_path, "v1").run("double", x=x)
    again = CachedReference(runner, tmp_path, "v1")  # a new grader process, same cache folder
    second = again.run("double", x=x.copy())
    assert runner.calls == 1 and again.hits == 1
    np.testing.assert_array_equal(second["out"], first["out"])
    assert second["out"].dtype == np.float64 and second["n"] == 15.0 and second["tag"] == "double"


def test_different_arguments_scenario_or_version_miss(tmp_path: Path):
    runner = CountingRunner()
    x = np.ones(3)
    CachedReference(runner, tmp_path, "v1").run("double", x=x)
    CachedReference(runner, tmp_path, "v1").run("double", x=x.astype(np.float32))  # dtype is part of the key
    CachedReference(runner, tmp_path, "v1").run("double", x=x.reshape(3, 1))  # so is the shape
    CachedReference(runner, tmp_path, "v1").run("triple", x=x)
    CachedReference(runner, tmp_path, "v2").run("double", x=x)
    assert runner.calls == 5


def test_corrupt_entry_is_recomputed(tmp_path: Path):
    runner = CountingRunner()
    cache = CachedReference(runner, tmp_path, "v1")
    cache.run("double", x=np.ones(2))
    (entry,) = tmp_path.glob("*.npz")
    entry.write_bytes(b"not an npz")
    assert CachedReference(runner, tmp_path, "v1").run("double", x=np.ones(2))["n"] == 2.0
    assert runner.calls == 2


def test_numerical_functions_are_never_cached(tmp_path: Path):
    cache = CachedReference(CountingRunner(), tmp_path, "v1")
    assert cache.function("f", a=1)(b=2) == ("live", "f", {"b": 2})


def test_fingerprint_follows_file_contents(tmp_path: Path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    before = fingerprint([pkg])
    (pkg / "a.py").write_text("x = 2\n")
    assert fingerprint([pkg]) != before


def test_zero_d_scalar_and_one_element_arguments_do_not_share_an_entry(tmp_path: Path):
    runner = CountingRunner()
    cache = CachedReference(runner, tmp_path, "v1")
    answers = [cache.run("double", x=x) for x in (np.array([1.0]), np.array(1.0), np.float64(1.0))]
    assert runner.calls == 3
    assert [np.shape(a["out"]) for a in answers] == [(1,), (), ()]


def test_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch):
    import autograder.framework.reference_cache as rc

    def replace_fails(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rc.os, "replace", replace_fails)
    runner = CountingRunner()
    assert CachedReference(runner, tmp_path, "v1").run("double", x=np.ones(2))["n"] == 2.0
    assert list(tmp_path.iterdir()) == []


def test_scalars_zero_d_and_one_element_arrays_get_different_keys(tmp_path: Path):
    """The handout's recorded answers and this cache share channel.call_key; these must never collide."""
    from autograder.framework.channel import call_key

    keys = {call_key("s", {"x": v}) for v in (np.float64(1), np.array(1.0), np.array([1.0]), 1.0, 1)}
    assert len(keys) == 5
    assert call_key("s", {"d": "/home/ta/data"}) == call_key("s", {"d": "/Users/me/data"})  # portable
    assert call_key("s", {}, salt="v1") != call_key("s", {}, salt="v2")
