"""Checks of exercise 1.1: Stable softmax."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...sandbox import instrumented_call
from .. import check
from .common import AXES, _no_warnings, fx, get


@check("1.1", weight=2)
def softmax_values(impl):
    """softmax matches the definition along axis -1, 0 and 1"""
    x = get("softmax.x")
    for axis in AXES:
        out = expect.call_pure(impl.softmax, "softmax", x, axis=axis)
        expect.array(out, f"softmax(x, axis={axis})", shape=x.shape, dtype=np.float64)
        sums = out.sum(axis=axis)
        if not np.allclose(sums, 1.0, atol=1e-9):
            other = [a for a in AXES if a != axis and np.allclose(out.sum(axis=a), 1.0)]
            hint = f" They sum to 1 along axis {other[0]}: you normalised over the wrong axis." \
                if other else " Divide exp(x) by its sum along `axis` (keepdims=True)."
            expect.fail(f"softmax(x, axis={axis}) should sum to 1 along axis {axis}; sums range "
                        f"over [{sums.min():.4g}, {sums.max():.4g}].{hint}")
        expect.close(out, fx()[f"softmax.out_axis{axis}"], f"softmax(x, axis={axis})")


@check("1.1")
def softmax_stable_and_masked(impl):
    """softmax is stable for |x| ~ 1e4, gives 0 for -inf and zeros for an all -inf row"""
    big = get("softmax.big")
    out, info = instrumented_call(impl.softmax, big)
    expect.array(out, "softmax of large inputs", shape=big.shape, finite=False)
    if not np.all(np.isfinite(out)):
        bad = sorted({int(r) for r in np.argwhere(~np.isfinite(out))[:, 0]},
                     key=lambda r: bool(np.all(np.isneginf(big[r]))))  # overflow rows first
        row = bad[0]
        hint = ("An all -inf row must give zeros (no attendable position)." if
                np.all(np.isneginf(big[row])) else
                "exp(1000) overflows: subtract the maximum along the axis first "
                "(softmax(x) = softmax(x - max x)).")
        expect.fail(f"softmax gave non-finite values in row {row} for input {big[row]}. {hint}")
    _no_warnings(info, "softmax")
    expect.close(out, fx()["softmax.big_out"], "softmax of large / -inf inputs",
                 hint="-inf entries must give exactly 0 and an all -inf row all zeros.")


@check("1.1")
def softmax_invariants(impl):
    """softmax is shift invariant, keeps float32, and leaves its input alone"""
    x = get("softmax.x")
    shifted = expect.call_pure(impl.softmax, "softmax", x + 50.0)
    expect.close(shifted, fx()["softmax.out_axis-1"], "softmax(x + 50)",
                 hint="softmax(x + c) must equal softmax(x) for any constant c.")
    x32 = x.astype(np.float32)
    out32 = expect.call_pure(impl.softmax, "softmax", x32)
    expect.array(out32, "softmax(float32 x)", shape=x.shape, dtype=np.float32)
    expect.close(out32, fx()["softmax.out_axis-1"], "softmax(float32 x)", **expect.F32)
