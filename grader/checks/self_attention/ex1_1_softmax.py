"""Checks of exercise 1.1: Stable softmax."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...sandbox import instrumented_call
from .. import check
from .common import AXES, _no_warnings, fx, get, ratio, skipped_until, softmax_math


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
            c = ratio(out, fx()[f"softmax.out_axis{axis}"])
            hint = (" " + expect.cause(f"it normalises over axis {other[0]} (the sums along "
                                       f"that axis are 1), not over `axis`") if other else
                    f" Every entry is exactly {c:.10g} times the expected one." if c else
                    " Divide exp(x) by its sum along `axis` (keepdims=True).")
            expect.fail(f"softmax(x, axis={axis}) should sum to 1 along axis {axis}, but the "
                        f"sums range over [{sums.min():.10g}, {sums.max():.10g}] (off by up to "
                        f"{np.abs(sums - 1).max():.3g}).{hint}")
        expect.close(out, fx()[f"softmax.out_axis{axis}"], f"softmax(x, axis={axis})")


def _overflow_probe(impl, row) -> str:
    """Re-run softmax on the row shifted so its max is 0: finite and right there means exp
    overflowed on the large entries, i.e. the max was not subtracted."""
    shifted = (row - row.max())[None, :]
    try:
        out = impl.softmax(shifted, axis=-1)
    except Exception:  # noqa: BLE001 — a diagnosis is best effort
        out = None
    if isinstance(out, np.ndarray) and out.shape == shifted.shape and np.allclose(
            out, softmax_math(shifted), **expect.F64):
        return expect.cause("exp overflows: the row's maximum is not subtracted before exp "
                            "(the same row shifted to max 0 comes out right); subtract the "
                            "maximum along the axis first: softmax(x) = softmax(x - max x)")
    return "Check that large inputs cannot overflow exp (softmax(x) = softmax(x - max x))."


@check("1.1")
def softmax_stable_and_masked(impl):
    """softmax is stable for |x| ~ 1e4, gives 0 for -inf and zeros for an all -inf row"""
    big = get("softmax.big")
    out, info = instrumented_call(impl.softmax, big, axis=-1)
    expect.array(out, "softmax of large inputs", shape=big.shape, finite=False)
    if not np.all(np.isfinite(out)):
        bad = sorted({int(r) for r in np.argwhere(~np.isfinite(out))[:, 0]},
                     key=lambda r: bool(np.all(np.isneginf(big[r]))))  # overflow rows first
        row = bad[0]
        hint = ("An all -inf row must give zeros (no attendable position)." if
                np.all(np.isneginf(big[row])) else _overflow_probe(impl, big[row]))
        expect.fail(f"softmax gave non-finite values in row {row} for input {big[row]}. {hint}")
    _no_warnings(info, "softmax")
    expect.close(out, fx()["softmax.big_out"], "softmax of large / -inf inputs",
                 hint="-inf entries must give exactly 0 and an all -inf row all zeros.")


@check("1.1")
def softmax_invariants(impl):
    """softmax is shift invariant, keeps float32, and leaves its input alone"""
    x = get("softmax.x")
    shifted = expect.call_pure(impl.softmax, "softmax", x + 50.0, axis=-1)
    expect.close(shifted, fx()["softmax.out_axis-1"], "softmax(x + 50)",
                 hint="softmax(x + c) must equal softmax(x) for any constant c.")
    x32 = x.astype(np.float32)
    out32 = expect.call_pure(impl.softmax, "softmax", x32, axis=-1)
    expect.array(out32, "softmax(float32 x)", shape=x.shape, dtype=np.float32)
    expect.close(out32, fx()["softmax.out_axis-1"], "softmax(float32 x)", **expect.F32)


@check("1.1")
def softmax_default_axis(impl):
    """softmax(x) without `axis` normalises over the last axis"""
    x = get("softmax.x")
    explicit = impl.softmax(x, axis=-1)
    if not (isinstance(explicit, np.ndarray) and explicit.shape == x.shape
            and np.allclose(explicit, fx()["softmax.out_axis-1"], **expect.F64)):
        skipped_until("softmax_values")
    out = expect.call_pure(impl.softmax, "softmax", x)
    expect.array(out, "softmax(x)", shape=x.shape)
    if np.allclose(out, fx()["softmax.out_axis-1"], **expect.F64):
        return
    other = [a for a in AXES if np.allclose(out, fx()[f"softmax.out_axis{a}"], **expect.F64)]
    if other:
        expect.fail(f"softmax(x) without `axis` normalises over axis {other[0]}, the same as "
                    f"softmax(x, axis={other[0]}); the default must be the last axis "
                    "(axis=-1).")
    expect.close(out, fx()["softmax.out_axis-1"], "softmax(x) without `axis`",
                 hint="Without `axis`, softmax normalises over the last axis (axis=-1).")
