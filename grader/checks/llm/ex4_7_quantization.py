"""Checks of exercise 4.7: int8 and int4 quantization.

Everything is computed from the definitions: absmax symmetric scales (``absmax / 127``,
``absmax / 7``), round half to even, keepdims scale shapes, int4 as two's complement nibbles
with row ``2i`` in the low nibble. The hand cases use scales that are powers of two, so
``w / scale`` is exact and the rounding ties (2.5, -2.5, 0.5, 1.5) are real ties; the random
cases have no near-ties. Weights are ``(in, out)``: ``y = x @ W + b``.
"""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check

EX = "4.7"


def _round_even(r):
    return np.round(r)  # NumPy rounds half to even


def _nibbles(q):
    """4-bit two's complement of integers in [-8, 7]."""
    return np.asarray(q, dtype=np.int64) & 0x0F


def _pack(q):
    """(in, out) integers -> uint8 (in/2, out): row 2i low nibble, row 2i+1 high nibble."""
    n = _nibbles(q)
    return (n[0::2] | (n[1::2] << 4)).astype(np.uint8)


def _unpack(packed):
    """uint8 (in/2, out) -> int64 (in, out), sign-extended."""
    p = np.asarray(packed, dtype=np.int64)
    q = np.empty((2 * p.shape[0], p.shape[1]), dtype=np.int64)
    q[0::2], q[1::2] = p & 0x0F, p >> 4
    return np.where(q >= 8, q - 16, q)


def _pair(result, name):
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail(f"{name} should return a pair (q, scale), got {type(result).__name__}"
                    f"{' of length ' + str(len(result)) if isinstance(result, tuple) else ''}.")
    return result


def _quantize_int8(impl, w, axis=None):
    """Call quantize_int8 and check the types: q int8 of w's shape, scale float32."""
    call = f"quantize_int8(w {w.shape}, axis={axis})"
    q, scale = _pair(expect.call_pure(impl.quantize_int8, "quantize_int8", w, axis=axis), call)
    expect.array(q, f"q of {call}", shape=w.shape)
    if q.dtype != np.int8:
        expect.fail(f"q of {call} has dtype {q.dtype}, expected int8: store the rounded values "
                    "with .astype(np.int8) (after clipping to [-127, 127]).")
    expect.array(scale, f"scale of {call}")
    if scale.dtype != np.float32:
        expect.fail(f"scale of {call} has dtype {scale.dtype}, expected float32: the scales are "
                    "stored in float32 next to the int8 values (.astype(np.float32)).")
    return q, scale


def _expect_scale_shape(scale, shape, call, what):
    if scale.shape != shape:
        kept = "one scale per index of `axis`" if what != "per tensor" else "one scale"
        expect.fail(f"scale of {call} has shape {scale.shape}, expected {shape} ({what}: "
                    f"{kept}, with every reduced axis kept with size 1 — np.max(..., "
                    "keepdims=True) — so that q * scale broadcasts).")


def _expect_q(q, w, scale, call, qmax=127):
    """q must be round-half-even(w / scale) clipped to [-qmax, qmax]; name the wrong rule."""
    r = w / scale.astype(np.float64)
    want = np.clip(_round_even(r), -qmax, qmax)
    if np.array_equal(q, want):
        return
    if np.any(q == -qmax - 1):
        expect.fail(f"{call} produced {-qmax - 1}: the range is symmetric, [-{qmax}, {qmax}] "
                    f"with scale = absmax / {qmax} (-{qmax + 1} has no positive partner, and "
                    "zero point 0 needs a range symmetric about 0). "
                    + expect.cause(f"the range is not symmetric: {-qmax - 1} is used"))
    idx = tuple(int(i) for i in np.argwhere(q != want)[0])
    # every q equal to another rounding rule's is the probe
    got_as = {"truncation toward 0 (np.trunc, or .astype(int) of the float)": np.trunc(r),
              "floor (np.floor)": np.floor(r),
              "round half up (np.floor(r + 0.5))": np.floor(r + 0.5),
              "round half away from 0 (Python 2 / C round)": np.sign(r) * np.floor(abs(r) + 0.5)}
    for rule, candidate in got_as.items():
        if np.array_equal(q, np.clip(candidate, -qmax, qmax)):
            expect.fail(f"{call}: q{list(idx)} = {q[idx]} for w / scale = {r[idx]:g}, expected "
                        f"{int(want[idx])}. Round to the nearest integer, ties to even: "
                        "np.round (2.5 -> 2, -2.5 -> -2, 1.5 -> 2, 3.7 -> 4). "
                        + expect.cause(f"q was rounded by {rule}"))
    expect.fail(f"{call}: q{list(idx)} = {q[idx]}, expected {int(want[idx])} = "
                f"round(w / scale) = round({r[idx]:g}) ({int((q != want).sum())} of {q.size} "
                f"entries differ). q = clip(np.round(w / scale), -{qmax}, {qmax}).")


def _expect_scale_values(scale, want, call, qmax=127):
    """The scale must be absmax / qmax; name absmax / (qmax+1), / 255, / 15, or absmax."""
    want = np.asarray(want, dtype=np.float64)
    got = scale.astype(np.float64)
    if np.allclose(got, want, rtol=1e-6, atol=0):
        return
    absmax = want * qmax
    wrong = {qmax + 1: f"absmax / {qmax + 1}: that fits [-{qmax + 1}, {qmax}], but the range "
                       f"is symmetric, [-{qmax}, {qmax}]",
             2 * qmax + 1: f"absmax / {2 * qmax + 1}: that spreads all {2 * qmax + 2} codes "
                           "over [0, absmax], but the values are signed",
             1: "absmax itself: divide it by the largest integer code"}
    for divisor, why in wrong.items():
        if np.allclose(got, absmax / divisor, rtol=1e-6, atol=0):
            expect.fail(f"scale of {call} is {_fmt(got)}, expected {_fmt(want)} = absmax / "
                        f"{qmax}: {why}; the largest |w| must map to ±{qmax}. "
                        + expect.cause("the scale is absmax itself" if divisor == 1 else
                                       f"the scale is absmax / {divisor}"))
    expect.fail(f"scale of {call} is {_fmt(got)}, expected {_fmt(want)} = absmax / {qmax} "
                "(absmax = the largest |w| of the tensor, channel or group).")


def _fmt(a) -> str:
    return np.array2string(np.asarray(a).ravel()[:6], precision=6, separator=", ")


@check(EX)
def int8_per_tensor_by_hand(impl):
    """per tensor: scale = absmax / 127, q = round half to even, in [-127, 127]"""
    # absmax 63.5 -> scale 0.5 exactly, so w / scale holds the ties 2.5, -2.5, 0.5, 1.5, -1.5
    w = np.array([[63.5, 1.25, -1.25],
                  [0.75, 0.25, -0.75],
                  [1.85, -1.85, -63.5],
                  [0.2, 10.3, -5.55]])
    call = "quantize_int8(w, axis=None)"
    q, scale = _quantize_int8(impl, w, None)
    _expect_scale_shape(scale, (1, 1), call, "per tensor")
    _expect_scale_values(scale, [[0.5]], call)
    _expect_q(q, w, np.array([[0.5]]), call)
    want = np.array([[127, 2, -2], [2, 0, -2], [4, -4, -127], [0, 21, -11]])
    if not np.array_equal(q, want):  # a safety net: _expect_q names the rule first
        expect.fail(f"{call}: q = {q.tolist()}, expected {want.tolist()}.")


@check(EX)
def int8_per_channel_scales(impl):
    """axis=1 of an (in, out) weight: one scale per column (output channel); axis=0 per row"""
    rng = np.random.default_rng(47)
    w = rng.standard_normal((4, 3)) * np.array([1.0, 3.0, 0.2])  # columns of distinct size
    absmax_col = np.abs(w).max(axis=0, keepdims=True)  # (1, 3)
    absmax_row = np.abs(w).max(axis=1, keepdims=True)  # (4, 1)
    for axis, absmax, other, what in ((1, absmax_col, absmax_row, "per column"),
                                      (-1, absmax_col, absmax_row, "per column"),
                                      (0, absmax_row, absmax_col, "per row")):
        call = f"quantize_int8(w (4, 3), axis={axis})"
        q, scale = _quantize_int8(impl, w, axis)
        if scale.shape == other.shape:
            expect.fail(f"scale of {call} has shape {scale.shape}, expected {absmax.shape}: "
                        f"axis={axis} asks for one scale per index of axis {axis} ({what}; "
                        "axis=1 = one per output channel of an (in, out) weight). Take the "
                        f"absmax over the OTHER axes, keeping axis {axis}. "
                        + expect.cause("the absmax is taken over `axis` instead of over the "
                                       "other axes"))
        _expect_scale_shape(scale, absmax.shape, call, what)
        want = (absmax / 127).astype(np.float32)
        _expect_scale_values(scale, want, call)
        _expect_q(q, w, want, call)
    w3 = rng.standard_normal((2, 3, 4))
    call = "quantize_int8(w (2, 3, 4), axis=1)"
    q, scale = _quantize_int8(impl, w3, 1)
    _expect_scale_shape(scale, (1, 3, 1), call, "per index of axis 1")
    want = (np.abs(w3).max(axis=(0, 2), keepdims=True) / 127).astype(np.float32)
    _expect_scale_values(scale, want, call)
    _expect_q(q, w3, want, call)
    q, scale = _quantize_int8(impl, w3, None)
    _expect_scale_shape(scale, (1, 1, 1), "quantize_int8(w (2, 3, 4), axis=None)", "per tensor")


@check(EX)
def int8_zero_channel_is_not_nan(impl):
    """an all-zero channel or tensor gets a finite positive scale and q = 0, never 0/0 = NaN"""
    w = np.array([[0.5, -1.0, 0.0, 2.0],
                  [0.25, 3.0, 0.0, -4.0],
                  [-1.5, 0.5, 0.0, 1.0]])  # column 2 is all zero
    for axis, w_, where in ((1, w, "column 2 of w is all zero"),
                            (None, np.zeros((3, 2)), "w is all zero")):
        call = f"quantize_int8(w, axis={axis})"
        try:
            q, scale = _quantize_int8(impl, w_, axis)
        except expect.CheckFailed as exc:
            if "every entry should be finite" in str(exc):
                expect.fail(f"{call}: {where}, and {exc} An all-zero channel has absmax 0, so "
                            "absmax / 127 = 0 and w / 0 = 0/0 = NaN: use scale 1.0 there "
                            "(np.where(absmax > 0, absmax / 127, 1.0)); q is then 0.")
            raise
        _expect_scale_shape(scale, (1, 4) if axis == 1 else (1, 1), call,
                            "per column" if axis == 1 else "per tensor")
        zero = (slice(None), slice(2, 3)) if axis == 1 else (slice(None), slice(None))
        s = scale[0, 2] if axis == 1 else scale[0, 0]
        if not s > 0:
            expect.fail(f"{call}: {where}, and its scale is {s}: absmax / 127 = 0 there, and "
                        "w / 0 = 0/0 = NaN (which .astype(np.int8) turns into an arbitrary "
                        "integer). Use scale 1.0 where absmax is 0 (np.where(absmax > 0, "
                        "absmax / 127, 1.0)); q is then 0. "
                        + expect.cause("the scale of an all-zero channel is 0"))
        if np.any(q[zero] != 0):
            expect.fail(f"{call}: {where} but q there is {q[zero].ravel().tolist()}, expected 0.")
    deq = impl.dequantize_int8(np.zeros((3, 2), np.int8), np.ones((1, 1), np.float32))
    expect.array(deq, "dequantize_int8 of zeros", shape=(3, 2), dtype=np.float32)


@check(EX)
def dequantize_int8_and_error_bound(impl):
    """q * scale in float32; |w - deq(q(w))| <= scale / 2; absmax -> ±127; idempotent"""
    q = np.array([[1, -2, 127], [-127, 0, 3]], dtype=np.int8)
    scale = np.array([[0.5, 0.25, 2.0]], dtype=np.float32)
    deq = expect.call_pure(impl.dequantize_int8, "dequantize_int8", q, scale)
    expect.array(deq, "dequantize_int8(q (2, 3), scale (1, 3))", shape=(2, 3), dtype=np.float32)
    expect.close(deq, q * scale.astype(np.float64), "dequantize_int8(q, scale)",
                 hint="w ≈ q * scale, with scale[0, j] the scale of column j.")
    rng = np.random.default_rng(7)
    w = rng.standard_normal((6, 5)) * np.array([0.02, 1.0, 5.0, 0.3, 2.0])
    w[2, 1] = 40.0  # an outlier in column 1
    for axis in (None, 1, 0):
        call = f"quantize_int8(w (6, 5), axis={axis})"
        q, scale = _quantize_int8(impl, w, axis)
        deq = impl.dequantize_int8(q, scale)
        expect.array(deq, f"dequantize_int8 of {call}", shape=w.shape, dtype=np.float32)
        err = np.abs(w - deq.astype(np.float64))
        bound = np.broadcast_to(scale.astype(np.float64), w.shape) / 2
        if np.any(err > bound * (1 + 1e-5) + 1e-12):
            idx = tuple(int(i) for i in np.argwhere(err > bound * (1 + 1e-5) + 1e-12)[0])
            expect.fail(f"after {call}, |w - dequantize(q, scale)| at {idx} is {err[idx]:.4g} "
                        f"> scale / 2 = {bound[idx]:.4g}: rounding to the nearest step never "
                        "errs by more than half a step.")
        reduce = None if axis is None else tuple(a for a in range(2) if a != axis)
        if not np.all(np.abs(q.astype(np.int64)).max(axis=reduce) == 127):
            expect.fail(f"{call}: the largest |q| of each channel should be 127 (absmax / scale "
                        f"= 127), got {np.abs(q.astype(np.int64)).max(axis=reduce)}.")
        q2, scale2 = _quantize_int8(impl, deq, axis)
        if not np.array_equal(q2, q) or not np.allclose(scale2, scale, rtol=1e-6, atol=0):
            expect.fail(f"quantizing dequantize_int8(*{call}) again should give the same q and "
                        "scale (the dequantized weights lie on the grid already).")


@check(EX)
def quantized_linear_int8(impl):
    """y = (x @ q) * scale + b: per-output-channel scales on the columns, no int8 overflow"""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 5))
    q = rng.integers(-127, 128, size=(5, 4)).astype(np.int8)
    scale = np.array([[0.01, 1.0, 0.1, 10.0]], dtype=np.float32)
    b = rng.standard_normal(4)

    def expected(x, q, scale, b=None):
        y = (np.asarray(x, np.float64) @ q.astype(np.float64)) * scale.astype(np.float64)
        return y + (0 if b is None else b)

    def compare(y, want, call, hint):
        tol = {"rtol": 1e-5, "atol": 1e-6 * float(np.abs(want).max())}
        expect.close(y, want, call, hint=hint, **tol)

    hint = ("y[..., j] = (x @ q)[..., j] * scale[0, j] + b[j]: the per-output-channel scale "
            "multiplies the output column j.")
    # square: scaling the input channels instead of the output columns has the right shape
    xs, qs = rng.standard_normal((3, 4)), rng.integers(-127, 128, size=(4, 4)).astype(np.int8)
    y = expect.call_pure(impl.quantized_linear, "quantized_linear", xs, qs, scale)
    call = "quantized_linear(x (3, 4), q (4, 4), scale (1, 4))"
    expect.array(y, call, shape=(3, 4), dtype=np.float64)
    wrong = (xs * scale.astype(np.float64)) @ qs.astype(np.float64)
    if np.allclose(y, wrong, rtol=1e-5) and not np.allclose(wrong, expected(xs, qs, scale)):
        expect.fail(f"{call} equals (x * scale) @ q. The scale belongs to the output "
                    "channels, the columns of q: (x @ q) * scale. "
                    + expect.cause("the scale multiplies the input channels"))
    compare(y, expected(xs, qs, scale), call, hint)
    call = "quantized_linear(x (2, 3, 5), q (5, 4), scale (1, 4), b)"
    y = impl.quantized_linear(x, q, scale, b)
    expect.array(y, call, shape=(2, 3, 4), dtype=np.float64)
    compare(y, expected(x, q, scale, b), call, hint)
    for s, what in ((np.array([[0.5]], np.float32), "scale (1, 1) (per tensor)"),
                    (scale.reshape(4), "scale (4,)")):
        call = f"quantized_linear(x (3, 4), q (4, 4), {what})"
        y = impl.quantized_linear(xs, qs, s)
        compare(y, expected(xs, qs, s.reshape(1, -1)), call, hint)
    y32 = impl.quantized_linear(xs.astype(np.float32), qs, scale, b.astype(np.float32))
    expect.array(y32, "quantized_linear of float32 x", shape=(3, 4), dtype=np.float32)
    # int8 activations: 5 * 100 * 127 = 63500 overflows int8 (and int16)
    xi = np.full((2, 5), 100, dtype=np.int8)
    qi = np.full((5, 4), 127, dtype=np.int8)
    call = "quantized_linear(x int8 (2, 5) of 100s, q int8 (5, 4) of 127s, scale)"
    y = impl.quantized_linear(xi, qi, scale)
    expect.array(y, call, shape=(2, 4))
    if not np.allclose(y, expected(xi, qi, scale), rtol=1e-6):
        wrapped = (xi @ qi).astype(np.float64) * scale.astype(np.float64)  # NumPy's int8 matmul
        cause = (" " + expect.cause("x @ q is computed in int8, which wraps around")
                 if np.allclose(y, wrapped, rtol=1e-6) else "")
        expect.fail(f"{call} gave {_fmt(y)}, expected {_fmt(expected(xi, qi, scale))} "
                    "(each dot product is 5 * 100 * 127 = 63500). x @ q of two int8 arrays is "
                    "computed in int8 and wraps around: cast to float first "
                    f"(np.result_type(x.dtype, np.float32)).{cause}")
    if y.dtype != np.float32:
        expect.fail(f"{call} has dtype {y.dtype}, expected float32 = "
                    "np.result_type(int8, float32).")


def _quantize_int4(impl, w, group_size):
    call = f"quantize_int4(w {w.shape}, group_size={group_size})"
    q4, group_scales = _pair(
        expect.call_pure(impl.quantize_int4, "quantize_int4", w, group_size), call)
    n_in, n_out = w.shape
    expect.array(q4, f"packed of {call}")
    expect.array(group_scales, f"scales of {call}")
    if q4.shape == (n_in, n_out / 2) or q4.shape == (n_in, n_out // 2):
        expect.fail(f"packed of {call} has shape {q4.shape}, expected ({n_in // 2}, "
                    f"{n_out}): pack pairs of ROWS (along the input axis, where the groups "
                    "run): packed[i, j] holds q[2i, j] and q[2i + 1, j]. "
                    + expect.cause("pairs of columns are packed, not pairs of rows"))
    if q4.shape != (n_in // 2, n_out):
        expect.fail(f"packed of {call} has shape {q4.shape}, expected ({n_in // 2}, "
                    f"{n_out}): two 4-bit values per byte, so half as many rows as w.")
    if q4.dtype != np.uint8:
        expect.fail(f"packed of {call} has dtype {q4.dtype}, expected uint8 (one byte = two "
                    "nibbles).")
    shape = (n_in // group_size, n_out)
    if group_scales.shape != shape:
        expect.fail(f"scales of {call} have shape {group_scales.shape}, expected {shape}: one "
                    f"scale per group of {group_size} consecutive rows of each column "
                    "(scales[g, j] for rows g*group_size .. (g+1)*group_size - 1 of column j).")
    if group_scales.dtype != np.float32:
        expect.fail(f"scales of {call} have dtype {group_scales.dtype}, expected float32.")
    return q4, group_scales


def _expect_packed(packed, want_q, call, w=None, scale=None):
    """packed must hold want_q as two's complement nibbles, row 2i low; name the mistake
    (with `w` and the `scale` of each entry, also a wrong rounding rule)."""
    want = _pack(want_q)
    if np.array_equal(packed, want):
        return
    idx = tuple(int(i) for i in np.argwhere(packed != want)[0])
    pair = (int(want_q[2 * idx[0], idx[1]]), int(want_q[2 * idx[0] + 1, idx[1]]))
    head = (f"{call}: packed{list(idx)} = 0x{int(packed[idx]):02X}, expected "
            f"0x{int(want[idx]):02X} for the pair q = {pair} (rows {2 * idx[0]}, "
            f"{2 * idx[0] + 1} of column {idx[1]}).")
    n = _nibbles(want_q)
    if np.array_equal(packed, (n[1::2] | (n[0::2] << 4)).astype(np.uint8)):
        expect.fail(head + " Row 2i goes in the LOW nibble (bits 0-3), row 2i + 1 in the high "
                    "nibble (bits 4-7): lo | (hi << 4). "
                    + expect.cause("the nibbles are swapped"))
    offset = np.asarray(want_q, np.int64) + 8
    if np.array_equal(packed, (offset[0::2] | (offset[1::2] << 4)).astype(np.uint8)):
        expect.fail(head + " Store 4-bit two's complement: q & 0x0F, so -1 is 0b1111 and -7 "
                    "is 0b1001. " + expect.cause("q + 8 is stored (offset binary)"))
    if w is not None and np.all(np.abs(_unpack(packed)) <= 7):
        _expect_q(_unpack(packed), w, scale, call + " (q unpacked from the bytes)", qmax=7)
    expect.fail(head + " Each q in [-7, 7] is stored as q & 0x0F (two's complement: -1 -> 0xF); "
                "byte = (q[2i] & 0x0F) | ((q[2i + 1] & 0x0F) << 4).")


@check(EX)
def int4_packing_by_hand(impl):
    """int4: scale = absmax / 7, two's complement nibbles, row 2i in the low nibble"""
    # column 0: scale 0.5, q = [7, -7, 3, -1] -> bytes 0x97 (7 | 9 << 4), 0xF3 (3 | 15 << 4)
    # column 1: scale 0.25, q = [7, 0, -1, 2] -> bytes 0x07, 0x2F
    w = np.array([[3.5, 1.75],
                  [-3.5, 0.0],
                  [1.5, -0.25],
                  [-0.5, 0.5]])
    call = "quantize_int4(w (4, 2), group_size=4)"
    packed, scales = _quantize_int4(impl, w, 4)
    _expect_scale_values(scales, [[0.5, 0.25]], call, qmax=7)
    _expect_packed(packed, np.array([[7, 7], [-7, 0], [3, -1], [-1, 2]]), call)
    if not np.array_equal(packed, np.array([[0x97, 0x07], [0xF3, 0x2F]])):
        expect.fail(f"{call}: packed = {packed.tolist()}, expected [[0x97, 0x07], [0xF3, 0x2F]].")
    # ties in int4: scale 0.5, w / scale = 7, 2.5, -2.5, 0.5, 1.5, -1.5 -> 7, 2, -2, 0, 2, -2
    w = np.array([[3.5], [1.25], [-1.25], [0.25], [0.75], [-0.75]])
    call = "quantize_int4(w (6, 1), group_size=6)"
    packed, scales = _quantize_int4(impl, w, 6)
    got = _unpack(packed)
    if not np.array_equal(got, np.clip(_round_even(w / 0.5), -7, 7)):
        _expect_q(got, w, np.array([[0.5]]), call + " (unpacked)", qmax=7)


@check(EX)
def int4_groups_run_down_columns(impl):
    """groups of group_size consecutive rows of each column; ValueError when sizes don't fit"""
    rng = np.random.default_rng(11)
    w = rng.standard_normal((8, 3)) * np.array([[1.0], [1.0], [1.0], [1.0],
                                                [5.0], [5.0], [5.0], [5.0]])
    w[5, 2] = 0.0
    w[0:4, 1] = 0.0  # an all-zero group
    call = "quantize_int4(w (8, 3), group_size=4)"
    zero_group = (f"{call}: rows 0-3 of column 1 are all zero, so absmax / 7 = 0 and w / 0 = "
                  "0/0 = NaN: use scale 1.0 where absmax is 0 (q is then 0).")
    try:
        packed, scales = _quantize_int4(impl, w, 4)
    except expect.CheckFailed as exc:
        if "every entry should be finite" in str(exc):
            expect.fail(f"{zero_group} ({exc})")
        raise
    if not scales[0, 1] > 0:
        expect.fail(f"{zero_group} Got scale {scales[0, 1]}.")
    absmax = np.abs(w.reshape(2, 4, 3)).max(axis=1)  # (G, out)
    want = np.where(absmax > 0, absmax / 7, 1.0).astype(np.float32)
    flat = np.abs(w).reshape(-1, 4).max(axis=1)  # groups along the rows of the (8, 3) array
    if np.allclose(np.sort(scales.ravel()), np.sort(flat[:6] / 7), rtol=1e-6) \
            and not np.allclose(scales, want, rtol=1e-6):
        expect.fail(f"{call}: the scales are those of groups of 4 consecutive entries of the "
                    "flattened row-major w. The groups run DOWN each column (along the input "
                    "axis): w.reshape(in // group_size, group_size, out). "
                    + expect.cause("the groups are runs of the flattened row-major w"))
    nonzero = absmax > 0
    _expect_scale_values(scales[nonzero], want[nonzero], call, qmax=7)
    q = np.clip(_round_even(w.reshape(2, 4, 3) / want[:, None, :]), -7, 7).reshape(8, 3)
    _expect_packed(packed, q, call, w, np.repeat(want, 4, axis=0))
    for shape, g, why in (((6, 3), 4, "group_size 4 does not divide in = 6"),
                          ((3, 2), 3, "in = 3 is odd: rows are packed in pairs"),
                          ((4, 2), 8, "group_size 8 > in = 4")):
        expect.raises(impl.quantize_int4, ValueError, f"quantize_int4(w {shape}, group_size="
                      f"{g}) ({why})", np.ones(shape), g)


@check(EX)
def dequantize_int4_sign_extension(impl):
    """all 256 bytes: low nibble = row 2i, high = row 2i+1, sign-extended; times group scales"""
    packed = np.arange(256, dtype=np.uint8).reshape(128, 2)
    scales = np.array([[0.5, 2.0]], dtype=np.float32)
    call = "dequantize_int4(packed = all 256 bytes (128, 2), scales (1, 2), group_size=256)"
    w = expect.call_pure(impl.dequantize_int4, "dequantize_int4", packed, scales, 256)
    expect.array(w, call, shape=(256, 2), dtype=np.float32)
    q = _unpack(packed)
    want = q * scales.astype(np.float64)
    if not np.array_equal(w, want):
        p = packed.astype(np.int64)
        lo, hi = p & 0x0F, p >> 4
        unsigned = np.empty((256, 2), np.int64)
        unsigned[0::2], unsigned[1::2] = lo, hi
        swapped = np.empty((256, 2), np.int64)
        swapped[0::2], swapped[1::2] = np.where(hi >= 8, hi - 16, hi), np.where(lo >= 8, lo - 16,
                                                                                lo)
        stacked = np.concatenate([np.where(lo >= 8, lo - 16, lo), np.where(hi >= 8, hi - 16, hi)])
        # the output equal to one of these decodings, times the scales, is the probe
        hints = {
            "unsigned": (unsigned, "0b1111 is -1, not 15: a nibble v >= 8 stands for v - 16 "
                                   "(4-bit two's complement). "
                                   + expect.cause("the nibbles are not sign-extended")),
            "swapped": (swapped, "The LOW nibble (bits 0-3) is row 2i, the high nibble row "
                                 "2i + 1. " + expect.cause("the nibbles are swapped")),
            "stacked": (stacked, "Interleave the rows: row 2i from the low nibble of packed[i], "
                                 "row 2i + 1 from its high nibble (not all low nibbles first). "
                                 + expect.cause("the rows are not interleaved")),
        }
        for candidate, hint in hints.values():
            if np.allclose(w, candidate * scales.astype(np.float64)):
                expect.close(w, want, call, hint=hint)
        expect.close(w, want, call, hint="w[2i, j] = sext(packed[i, j] & 0x0F) * scale, "
                     "w[2i + 1, j] = sext(packed[i, j] >> 4) * scale, sext(v) = v - 16 if v >= 8.")
    rng = np.random.default_rng(5)
    packed = rng.integers(0, 256, size=(4, 3)).astype(np.uint8)
    scales = np.array([[0.5, 1.0, 0.25], [4.0, 0.125, 2.0]], dtype=np.float32)
    call = "dequantize_int4(packed (4, 3), scales (2, 3), group_size=4)"
    w = impl.dequantize_int4(packed, scales, 4)
    expect.array(w, call, shape=(8, 3), dtype=np.float32)
    expect.close(w, _unpack(packed) * np.repeat(scales.astype(np.float64), 4, axis=0), call,
                 hint="scales[g, j] multiplies rows g*group_size .. (g+1)*group_size - 1 of "
                      "column j (np.repeat(scales, group_size, axis=0)).")


@check(EX)
def int4_roundtrip_error_bound(impl):
    """dequantize_int4(quantize_int4(w)) is within scale / 2 of w, and re-quantizes to itself"""
    rng = np.random.default_rng(13)
    w = rng.standard_normal((16, 5)) * np.array([0.02, 1.0, 5.0, 0.3, 2.0])
    w[3, 2] = 60.0  # an outlier: only its group pays for it
    for g in (4, 16):
        call = f"quantize_int4(w (16, 5), group_size={g})"
        packed, scales = _quantize_int4(impl, w, g)
        deq = impl.dequantize_int4(packed, scales, g)
        expect.array(deq, f"dequantize_int4 of {call}", shape=w.shape, dtype=np.float32)
        bound = np.repeat(scales.astype(np.float64), g, axis=0) / 2
        err = np.abs(w - deq)
        if np.any(err > bound * (1 + 1e-5) + 1e-12):
            idx = tuple(int(i) for i in np.argwhere(err > bound * (1 + 1e-5) + 1e-12)[0])
            expect.fail(f"after {call}, |w - dequantize_int4(...)| at {idx} is {err[idx]:.4g} > "
                        f"scale / 2 = {bound[idx]:.4g}. Does dequantize_int4 undo exactly what "
                        "quantize_int4 stores (nibble order, sign, group scales)?")
        packed2, scales2 = _quantize_int4(impl, deq.astype(np.float64), g)
        if not np.array_equal(packed2, packed) or not np.allclose(scales2, scales, rtol=1e-6):
            expect.fail(f"quantizing dequantize_int4(*{call}) again should give the same bytes "
                        "and scales (the dequantized weights lie on the grid already).")


@check(EX)
def quantized_linear_int4(impl):
    """int4: y = sum over groups g of (x_g @ q_g) * scales[g] + b, from the packed bytes"""
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 3, 8))
    packed = rng.integers(0, 256, size=(4, 5)).astype(np.uint8)
    b = rng.standard_normal(5)
    for g, scales in ((4, rng.uniform(0.1, 2.0, size=(2, 5)).astype(np.float32)),
                      (8, rng.uniform(0.1, 2.0, size=(1, 5)).astype(np.float32))):
        call = f"quantized_linear(x (2, 3, 8), packed (4, 5), scales {scales.shape}, b, " \
               f"group_size={g})"
        y = expect.call_pure(impl.quantized_linear, "quantized_linear", x, packed, scales, b,
                             group_size=g)
        expect.array(y, call, shape=(2, 3, 5), dtype=np.float64)
        W = _unpack(packed) * np.repeat(scales.astype(np.float64), g, axis=0)
        want = x @ W + b
        expect.close(y, want, call, rtol=1e-5, atol=1e-6 * float(np.abs(want).max()),
                     hint="unpack the int4 values (low nibble = row 2i, sign-extended); the "
                          "scale changes along the input axis, so scale each group's partial "
                          "product x_g @ q_g by scales[g] before summing the groups.")


@check(EX)
def int8_default_axis_is_per_tensor(impl):
    """quantize_int8(w) without axis is per tensor: one scale (1, 1), as axis=None"""
    w = np.array([[63.5, 1.25, -1.25], [0.75, 0.25, -0.75]])  # absmax 63.5 -> scale 0.5
    call = "quantize_int8(w (2, 3)), called without axis"
    q, scale = _pair(expect.call_pure(impl.quantize_int8, "quantize_int8", w), call)
    expect.array(scale, f"scale of {call}")
    per_column = (1, 3)
    if scale.shape == per_column:
        expect.fail(f"scale of {call} has shape {per_column}, one scale per column: the default "
                    "axis=None is per tensor, scale (1, 1). "
                    + expect.cause("the default axis is per output channel, not None"))
    _expect_scale_shape(scale, (1, 1), call, "per tensor")
    _expect_scale_values(scale, [[0.5]], call)
    _expect_q(expect.array(q, f"q of {call}", shape=w.shape), w, np.array([[0.5]]), call)


@check(EX)
def quantization_refuses_bad_input(impl):
    """TypeError / ValueError: integer or non-finite weights, an axis out of range, misfit
    int4 scales, activations of the wrong width"""
    w = np.ones((4, 3))
    # the given code raises these errors: points only once the function itself runs (a stub
    # raises NotImplementedError here)
    impl.quantize_int8(w)
    impl.dequantize_int4(np.zeros((4, 3), np.uint8), np.ones((2, 3), np.float32), 4)
    impl.quantized_linear(np.ones((2, 4)), np.ones((4, 3), np.int8), np.ones((1, 3), np.float32))
    expect.raises(impl.quantize_int8, TypeError, "4.7: quantize_int8 of an integer w",
                  np.ones((4, 3), dtype=np.int64))
    expect.raises(impl.quantize_int8, ValueError, "4.7: quantize_int8 of a w holding NaN",
                  np.array([[1.0, np.nan], [0.5, 2.0]]))
    for axis in (2, -3):
        expect.raises(impl.quantize_int8, ValueError, f"4.7: quantize_int8(w (4, 3), "
                      f"axis={axis})", w, axis=axis)
    packed = np.zeros((4, 3), dtype=np.uint8)  # in = 8
    expect.raises(impl.dequantize_int4, ValueError, "4.7: dequantize_int4(packed (4, 3), scales "
                  "(1, 3), group_size=4): 8 rows make 2 groups", packed,
                  np.ones((1, 3), np.float32), 4)
    q = np.ones((4, 3), dtype=np.int8)
    expect.raises(impl.quantized_linear, ValueError, "4.7: quantized_linear(x (2, 5), q (4, 3), "
                  "scale (1, 3))", np.ones((2, 5)), q, np.ones((1, 3), np.float32))
