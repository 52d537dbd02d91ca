"""Checks of exercise 3.1: Linear layer."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import check_gradient_of
from .. import check
from .common import _grads, fx, get


@check("3.1", weight=2)
def linear_values(impl):
    """y = x @ W + b on (B, T, in) inputs, with and without bias, float32 kept"""
    x, W, b = get("linear.x"), get("linear.W"), get("linear.b")
    out, _ = expect.pair(expect.call_pure(impl.linear, "linear", x, W, b), "linear")
    expect.array(out, "linear(x, W, b)", shape=fx()["linear.out"].shape, dtype=np.float64)
    expect.close(out, fx()["linear.out"], "linear(x, W, b)",
                 hint="W is (in, out), as in the GPT-2 checkpoint: y = x @ W + b.")
    out_nb, _ = expect.pair(impl.linear(x, W), "linear")
    expect.close(out_nb, fx()["linear.out"] - b, "linear(x, W) without bias")
    out32, _ = expect.pair(impl.linear(x.astype(np.float32), W.astype(np.float32),
                                       b.astype(np.float32)), "linear")
    expect.array(out32, "linear of float32 inputs", shape=out.shape, dtype=np.float32)


@check("3.1", weight=2)
def linear_backward_values(impl):
    """dx = dY Wᵀ, dW = xᵀ dY and db = Σ dY, summed over batch and time"""
    x, W, b, dout = get("linear.x"), get("linear.W"), get("linear.b"), get("linear.dout")
    _, cache = expect.pair(impl.linear(x, W, b), "linear")
    dx, dW, db = _grads(impl.linear_backward(dout, cache), 3, "linear_backward")
    expect.array(dx, "dx", shape=x.shape)
    if isinstance(dW, np.ndarray) and dW.shape == x.shape[:-2] + W.shape:
        expect.fail("dW has a batch axis: sum the per-example products over every leading "
                    "axis (reshape x and dY to (B*T, ·) first), so dW has W's shape.")
    expect.array(dW, "dW", shape=W.shape)
    expect.array(db, "db", shape=b.shape)
    expect.close(dW, fx()["linear.dW"], "dW", hint="dW = xᵀ dY, shape (in, out).")
    expect.close(db, fx()["linear.db"], "db", hint="db sums dY over batch and time.")
    expect.close(dx, fx()["linear.dx"], "dx", hint="dx = dY Wᵀ.")
    _, cache_nb = expect.pair(impl.linear(x, W), "linear")
    grads = _grads(impl.linear_backward(dout, cache_nb), 3, "linear_backward")
    if grads[2] is not None:
        expect.fail("linear_backward should return db = None when the layer has no bias.")
    f32 = [a.astype(np.float32) for a in (x, W, b, dout)]
    _, cache32 = expect.pair(impl.linear(*f32[:3]), "linear")
    for grad, ref, name in zip(_grads(impl.linear_backward(f32[3], cache32), 3,
                                      "linear_backward"), (x, W, b), ("dx", "dW", "db")):
        expect.array(grad, f"{name} of float32 inputs", shape=ref.shape, dtype=np.float32)


@check("3.1", hidden=True)
def linear_finite_differences(impl):
    """the backward agrees with finite differences of your own forward"""
    x, W, b, dout = get("linear.x"), get("linear.W"), get("linear.b"), get("linear.dout")
    out, cache = expect.pair(impl.linear(x, W, b), "linear")
    expect.require_correct(out, fx()["linear.out"], "linear", "3.1")
    dx, dW, db = _grads(impl.linear_backward(dout, cache), 3, "linear_backward")

    for grad, arr, name in ((dx, x, "dx"), (dW, W, "dW"), (db, b, "db")):
        check_gradient_of(grad, impl.linear, (x, W, b), {}, arr, dout,
                          f"{name} (finite differences)")
