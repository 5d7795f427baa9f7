"""The data-only channel: round trips, and refusal of anything that is not plain numeric data."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from autograder.framework import channel
from autograder.framework.channel import ChannelError, decode, encode


def _same(a, b) -> None:
    """Deep equality that also checks array dtype and shape, and scalar types."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_round_trip_of_a_nested_tree():
    rng = np.random.default_rng(0)
    tree = {
        "out": rng.standard_normal((3, 5)),
        "grads": [rng.standard_normal(7).astype(np.float32), None, np.arange(4, dtype=np.int16).reshape(2, 2)],
        "flags": np.array([True, False]),
        "zero_d": np.array(2.5),
        "scalar": np.float32(1.5),
        "cplx": np.array([1 + 2j]),
        "meta": {"n": 3, "x": 0.1, "name": "ünïcode", "ok": True, "nan": float("nan"), "inf": float("-inf")},
        "empty": np.zeros((0, 3)),
        "fortran": np.asfortranarray(rng.standard_normal((3, 4))),
    }
    back = decode(encode(tree))
    expected = dict(tree, fortran=np.asarray(tree["fortran"], order="C"))
    _same(back, expected)
    assert type(back["scalar"]) is np.float32  # numpy scalars stay scalars with their dtype
    assert back["zero_d"].shape == ()


def test_tuples_become_lists_and_python_complex_an_np_scalar():
    back = decode(encode({"t": (1, 2), "c": 1 + 2j}))
    assert back["t"] == [1, 2]
    assert back["c"] == np.complex128(1 + 2j) and isinstance(back["c"], np.complex128)


@pytest.mark.parametrize(
    "bad",
    [
        {"x": object()},
        {"x": np.array([object()], dtype=object)},
        {"x": np.array(["a", "b"])},
        {"x": np.zeros(2, dtype=[("a", "f8"), ("b", "i4")])},
        {1: 2},
        {"x": {"__ndarray__": "a0"}},
        {"x": b"bytes"},
        {"x": np.ma.masked_array([1.0, 2.0])},
    ],
)
def test_encode_refuses_what_is_not_plain_data(bad):
    with pytest.raises(ChannelError):
        encode(bad)


def _npz(**entries) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **entries)
    return buf.getvalue()


def _json(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8)


def test_decode_refuses_a_pickled_object_array():
    # np.savez pickles object arrays; the reader must refuse rather than unpickle.
    data = _npz(__json__=_json('{"x": {"__ndarray__": "a0"}}'), a0=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ChannelError, match="dtype object|not a plain array"):
        decode(data)


def test_decode_refuses_a_raw_pickle():
    with pytest.raises(ChannelError, match="not an npz"):
        decode(pickle.dumps({"x": 1}))


def test_decode_refuses_structured_and_string_arrays():
    for arr in (np.zeros(2, dtype=[("a", "f8")]), np.array(["s"])):
        data = _npz(__json__=_json('{"__ndarray__": "a0"}'), a0=arr)
        with pytest.raises(ChannelError, match="dtype"):
            decode(data)


def test_decode_refuses_oversized_frames_and_entries():
    data = encode({"x": np.zeros(1000)})
    with pytest.raises(ChannelError, match="exceeds"):
        decode(data, max_bytes=len(data) - 1)
    # A small archive whose entries claim more than the limit (no zip bombs).
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__json__.npy", b"\0" * 100_000)
    with pytest.raises(ChannelError, match="compressed"):
        decode(buf.getvalue(), max_bytes=10**6)


def test_decode_refuses_bad_references():
    for text in (
        '{"__ndarray__": "nope"}',
        '{"__ndarray__": "__json__"}',
        '[{"__ndarray__": "a0"}, {"__ndarray__": "a0"}]',  # one entry used twice
        '{"__ndarray__": "a0", "more": 1}',
        '{"__ndarray__": "a0", "__scalar__": true}',
    ):
        data = _npz(__json__=_json(text), a0=np.zeros(3))
        with pytest.raises(ChannelError):
            decode(data)


def test_decode_refuses_missing_or_broken_json():
    with pytest.raises(ChannelError, match="no __json__"):
        decode(_npz(a0=np.zeros(3)))
    with pytest.raises(ChannelError, match="JSON"):
        decode(_npz(__json__=_json("{not json")))
    with pytest.raises(ChannelError, match="uint8"):
        decode(_npz(__json__=np.zeros(3)))


def test_frames_over_a_pipe():
    r, w = os.pipe()
    try:
        tree = {"a": np.arange(6.0).reshape(2, 3), "b": [1, "two"]}
        channel.write_frame(w, tree)
        _same(channel.read_frame(r), tree)
        # An announced length over the limit is refused before the body is read.
        os.write(w, channel.HEADER.pack(10**12))
        with pytest.raises(ChannelError, match="exceeds"):
            channel.read_frame(r)
        os.close(w)
        w = -1
        with pytest.raises(EOFError):
            channel.read_frame(r)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_decode_refuses_integers_beyond_64_bits_before_parsing_them():
    for text in ('{"x": %d}' % 10**400, '{"x": %d}' % 2**64, '{"x": -%d}' % (2**63 + 1)):
        with pytest.raises(ChannelError, match="digits|64 bits"):
            decode(_npz(__json__=_json(text)))
    assert decode(_npz(__json__=_json('{"x": %d}' % (2**63 - 1))))["x"] == 2**63 - 1


def test_decode_refuses_a_json_part_over_its_limit():
    text = '{"x": "%s"}' % ("y" * (channel.MAX_JSON_BYTES + 1))
    with pytest.raises(ChannelError, match="JSON part"):
        decode(_npz(__json__=_json(text)))


def test_decode_refuses_an_array_header_that_claims_more_than_it_holds():
    # A 10-element entry whose .npy header claims 10**12 elements: refused before np.load allocates.
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    forged = npy.getvalue() + np.zeros(10).tobytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("__json__.npy", _npy(_json('{"x": {"__ndarray__": "a0"}}')))
        z.writestr("a0.npy", forged)
    with pytest.raises(ChannelError, match="declares"):
        decode(buf.getvalue())


def _npy(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, arr)
    return out.getvalue()
