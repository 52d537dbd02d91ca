"""Checks of exercise 1.2: Softmax backward (JVP)."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...sandbox import instrumented_call
from .. import check
from .common import AXES, fx, get, ratio, skipped_until


def _vjp(dout, out, axis):
    """The grader's vector-Jacobian product of softmax."""
    return out * (dout - np.sum(dout * out, axis=axis, keepdims=True))


def _slip(impl, dx, dout, out, axis) -> str:
    """The usual slip that gives `dx`, confirmed on the arrays (and, for an ignored dout, by
    a second call with another dout); "" when none fits."""
    want = _vjp(dout, out, axis)
    found = {
        "the -sum(dout * out) term is missing (out * dout is only the Jacobian's diagonal)":
            out * dout,
        "the outer factor out is missing (dx = out * (dout - sum(dout * out)))":
            dout - np.sum(dout * out, axis=axis, keepdims=True),
        "dout and out are swapped (the signature is softmax_backward(dout, out, axis))":
            _vjp(out, dout, axis),
    }
    found.update({f"the sum runs over axis {a}, not over `axis` = {axis}": out * (
        dout - np.sum(dout * out, axis=a, keepdims=True)) for a in AXES if a != axis})
    for cause, value in found.items():
        if isinstance(dx, np.ndarray) and dx.shape == value.shape and np.allclose(
                dx, value, **expect.F64):
            return cause
    c = ratio(dx, want)
    if c is not None:
        return "the sign of dx is flipped" if np.isclose(c, -1) else \
            f"dx is off by a constant factor {c:.6g}"
    try:
        again = impl.softmax_backward(2 * dout + 1, out, axis=axis)
    except Exception:  # noqa: BLE001 — a diagnosis is best effort
        return ""
    if isinstance(again, np.ndarray) and again.shape == dx.shape and np.allclose(again, dx):
        return "softmax_backward ignores dout: another dout gives the same dx"
    return ""


@check("1.2", weight=3)
def softmax_backward_values(impl):
    """softmax_backward equals the vector-Jacobian product along axis -1, 0 and 1"""
    dout = get("softmax_backward.dout")
    for axis in AXES:
        out = get(f"softmax.out_axis{axis}")
        dx = expect.call_pure(impl.softmax_backward, "softmax_backward", dout, out, axis=axis)
        expect.array(dx, f"softmax_backward(axis={axis})", shape=dout.shape, dtype=np.float64)
        if np.allclose(dx, _vjp(dout, out, axis), **expect.F64):
            continue
        cause = _slip(impl, dx, dout, out, axis)
        hint = (expect.cause(cause) if cause else
                "dx = out * (dout - sum(dout * out, axis, keepdims=True)).")
        leak = np.abs(dx.sum(axis=axis)).max()
        if leak > 1e-9:
            expect.fail(f"softmax_backward(axis={axis}): the gradient should sum to 0 along "
                        f"axis {axis} (softmax's outputs always sum to 1), but sums reach "
                        f"{leak:.3g}. {hint}")
        expect.close(dx, fx()[f"softmax_backward.dx_axis{axis}"],
                     f"softmax_backward(axis={axis})", hint=hint)


def _require_values(impl):
    out = get("softmax.out_axis-1")
    dx = impl.softmax_backward(get("softmax_backward.dout"), out, axis=-1)
    if not (isinstance(dx, np.ndarray) and dx.shape == out.shape
            and np.allclose(dx, fx()["softmax_backward.dx_axis-1"], **expect.F64)):
        skipped_until("softmax_backward_values")


@check("1.2")
def softmax_backward_properties(impl):
    """a constant upstream gradient gives zero, float32 stays float32"""
    _require_values(impl)
    out = get("softmax.out_axis-1")
    dx = impl.softmax_backward(np.full(out.shape, 3.0), out, axis=-1)
    expect.array(dx, "softmax_backward(constant dout)", shape=out.shape)
    expect.close(dx, np.zeros_like(out), "softmax_backward(constant dout)",
                 hint="Adding a constant to every logit does not change softmax, so its "
                      "gradient along that direction must be 0.")
    dout = get("softmax_backward.dout")
    dx32 = impl.softmax_backward(dout.astype(np.float32), out.astype(np.float32), axis=-1)
    expect.array(dx32, "softmax_backward(float32)", shape=out.shape, dtype=np.float32)
    expect.close(dx32, fx()["softmax_backward.dx_axis-1"], "softmax_backward(float32)",
                 **expect.F32)


@check("1.2")
def softmax_backward_default_axis(impl):
    """softmax_backward(dout, out) without `axis` works along the last axis"""
    _require_values(impl)
    dout = get("softmax_backward.dout")
    out = get("softmax.out_axis-1")
    dx = expect.call_pure(impl.softmax_backward, "softmax_backward", dout, out)
    expect.array(dx, "softmax_backward(dout, out)", shape=out.shape)
    if np.allclose(dx, _vjp(dout, out, -1), **expect.F64):
        return
    other = [a for a in AXES if np.allclose(dx, _vjp(dout, out, a), **expect.F64)]
    if other:
        expect.fail(f"softmax_backward(dout, out) without `axis` sums over axis {other[0]}, "
                    f"the same as axis={other[0]}; the default must be the last axis "
                    "(axis=-1), as in softmax.")
    expect.close(dx, _vjp(dout, out, -1), "softmax_backward(dout, out) without `axis`",
                 hint="Without `axis`, the backward works along the last axis (axis=-1).")


@check("1.2", weight=2, hidden=True)
def softmax_backward_no_jacobian(impl):
    """softmax_backward never builds the T×T Jacobian (memory stays linear)"""
    _require_values(impl)
    rng = np.random.default_rng(12)
    logits = rng.standard_normal((8, 1024))
    out = np.exp(logits - logits.max(-1, keepdims=True))
    out /= out.sum(-1, keepdims=True)
    dout = rng.standard_normal(out.shape)
    dx, info = instrumented_call(impl.softmax_backward, dout, out)
    expect.array(dx, "softmax_backward on (8, 1024)", shape=out.shape)
    limit = 4 * 2**20  # the Jacobian of this input is 64 MiB; one row of it 8 MiB
    if info.peak_bytes > limit:
        expect.fail(f"softmax_backward allocated {info.peak_bytes / 2**20:.1f} MiB for a "
                    f"{out.nbytes / 2**10:.0f} KiB input (limit {limit / 2**20:.1f} MiB): it looks "
                    "like it builds the Jacobian diag(p) - p p^T. Use the vector-Jacobian "
                    "product dx = p * (dout - sum(dout * p)) instead.")
    leak = np.abs(dx.sum(-1)).max()
    if leak > 1e-9:
        expect.fail(f"softmax_backward on a (8, 1024) input: rows of dx should sum to 0, got "
                    f"up to {leak:.3g}.")
