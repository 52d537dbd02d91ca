"""Checks of exercise 1.2: Softmax backward (JVP)."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...sandbox import instrumented_call
from .. import check
from .common import AXES, fx, get


@check("1.2", weight=3)
def softmax_backward_values(impl):
    """softmax_backward equals the vector-Jacobian product along axis -1, 0 and 1"""
    dout = get("softmax_backward.dout")
    for axis in AXES:
        out = get(f"softmax.out_axis{axis}")
        dx = expect.call_pure(impl.softmax_backward, "softmax_backward", dout, out, axis=axis)
        expect.array(dx, f"softmax_backward(axis={axis})", shape=dout.shape, dtype=np.float64)
        leak = np.abs(dx.sum(axis=axis)).max()
        if leak > 1e-9:
            expect.fail(f"softmax_backward(axis={axis}): the gradient should sum to 0 along "
                        f"axis {axis} (softmax's outputs always sum to 1), but sums reach "
                        f"{leak:.3g}. Subtract <dout, out> taken along the same axis, with "
                        "keepdims=True: dx = out * (dout - sum(dout * out, axis)).")
        expect.close(dx, fx()[f"softmax_backward.dx_axis{axis}"],
                     f"softmax_backward(axis={axis})",
                     hint="dx = out * (dout - sum(dout * out, axis, keepdims=True)).")


@check("1.2")
def softmax_backward_properties(impl):
    """a constant upstream gradient gives zero, float32 stays float32"""
    out = get("softmax.out_axis-1")
    expect.require_correct(impl.softmax_backward(get("softmax_backward.dout"), out),
                     fx()["softmax_backward.dx_axis-1"], "softmax_backward", "1.2")
    dx = impl.softmax_backward(np.full(out.shape, 3.0), out)
    expect.array(dx, "softmax_backward(constant dout)", shape=out.shape)
    expect.close(dx, np.zeros_like(out), "softmax_backward(constant dout)",
                 hint="Adding a constant to every logit does not change softmax, so its "
                      "gradient along that direction must be 0.")
    dout = get("softmax_backward.dout")
    dx32 = impl.softmax_backward(dout.astype(np.float32), out.astype(np.float32))
    expect.array(dx32, "softmax_backward(float32)", shape=out.shape, dtype=np.float32)
    expect.close(dx32, fx()["softmax_backward.dx_axis-1"], "softmax_backward(float32)",
                 **expect.F32)


@check("1.2", weight=2, hidden=True)
def softmax_backward_no_jacobian(impl):
    """softmax_backward never builds the T×T Jacobian (memory stays linear)"""
    expect.require_correct(impl.softmax_backward(get("softmax_backward.dout"),
                                           get("softmax.out_axis-1")),
                     fx()["softmax_backward.dx_axis-1"], "softmax_backward", "1.2")
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
