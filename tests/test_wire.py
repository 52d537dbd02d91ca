"""The sandbox's wire format carries data only, and keeps identity."""

from __future__ import annotations

import numpy as np
import pytest

from grader.sandbox import wire


def roundtrip(obj):
    data, _ = wire.encode(obj)
    return wire.decode(data)[0]


def test_values_roundtrip_with_dtypes_and_identity():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    obj = {"x": x, "same": x, "t": (1, 2.5, None, True, "s", np.int64(7)), "l": [np.bool_(True)],
           7: float("nan")}
    back = roundtrip(obj)
    assert back["x"].dtype == np.float32 and np.array_equal(back["x"], x)
    assert back["same"] is back["x"]
    assert back["t"][:5] == (1, 2.5, None, True, "s") and back["t"][5].dtype == np.int64
    assert np.isnan(back[7])


def test_strings_keep_every_code_point():
    """A high and a low surrogate stay two code points (JSON alone would join them into one
    character): BPE's round trip of lone surrogates is graded through the sandbox."""
    text = "a\ud83d\ude00b\udc00 \u00e9\U0001f600"
    back = roundtrip([text, ("x",)])
    assert back[0] == text and len(back[0]) == len(text) and back[1] == ("x",)


def test_bytes_travel_as_data():
    """A BPE vocabulary maps ids to bytes; empty and non-UTF-8 bytes survive."""
    vocab = {0: b"", 1: b"\xff\x00", 2: "é".encode()}
    back = roundtrip((vocab, b"x"))
    assert back == (vocab, b"x") and all(type(v) is bytes for v in back[0].values())


def test_numpy_scalars_keep_their_type():
    back = roundtrip((np.float64(0.5), np.float32(1.5), np.bool_(False), np.int8(-3)))
    assert [type(v) for v in back] == [np.float64, np.float32, np.bool_, np.int8]
    assert back == (0.5, 1.5, False, -3)


def test_dtypes_travel_as_arguments():
    back = roundtrip((np.float32, np.dtype("int8"), np.bool_))
    assert back == (np.float32, np.dtype("int8"), np.bool_)


def test_generator_state_travels():
    gen = np.random.default_rng(5)
    gen.random(3)
    back = roundtrip(gen)
    assert back.random() == gen.random()


def test_objects_are_refused_without_a_handler():
    with pytest.raises(wire.WireError):
        wire.encode(object())
    with pytest.raises(wire.WireError):
        wire.encode(np.array([object()], dtype=object))


@pytest.mark.parametrize("data", [b"", b"\x00" * 3, b"\xff" * 16,
                                  b"\x05\x00\x00\x00\x00\x00\x00\x00{bad}"])
def test_garbage_is_rejected_not_executed(data):
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_object_dtype_in_a_message_is_rejected():
    data, _ = wire.encode(np.zeros(2))
    forged = data.replace(b'"<f8"', b'"|O8"')
    with pytest.raises(wire.WireError):
        wire.decode(forged)


def test_an_in_place_edit_of_a_checks_constant_fails_the_check():
    """Student code that edits a list or dict it was given changes the caller's object (as
    in-place contracts such as AdamW.step need), but never a constant of the checks: that
    would change what later checks compare against."""
    import grader.checks  # noqa: F401  (protects the checks' constants)
    from grader.checks.llm import ex4_13_prompting
    from grader.expect import CheckFailed
    from grader.sandbox import remote

    constant = ex4_13_prompting.EXAMPLES
    with pytest.raises(CheckFailed, match="changed one of its inputs in place"):
        remote._copy_back(constant, [*constant, ("forged", "example")])
    assert ("forged", "example") not in constant
    fresh = [1, 2]
    remote._copy_back(fresh, [1, 2, 3])
    assert fresh == [1, 2, 3]
