"""Checks of exercise 3.1: Linear layer.

The backward is graded one gradient per check against the grader's own math (the gradients
of y = x W + b, closed forms checked by finite differences of that formula in the hidden
check), so a wrong forward hides no backward bug: see `close_or_slip`'s gate.
"""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import numerical_gradient
from .. import check
from .common import _grads, close_or_slip, fx, get, matches

NAMES = ("dx", "dW", "db")


def _case():
    return get("linear.x"), get("linear.W"), get("linear.b"), get("linear.dout")


def _math(x, W, b, dout):
    """The grader's gradients of sum(dout * (x W + b)): (dx, dW, db)."""
    rows, drows = x.reshape(-1, W.shape[0]), dout.reshape(-1, W.shape[1])
    return dout @ W.T, rows.T @ drows, drows.sum(axis=0)


def _slips(which: int, x, W, b, dout, expected):
    """(what a wrong formula gives, the slip) for gradient `which` on these inputs."""
    ones = _math(x, W, b, np.ones_like(dout))[which]
    slips = [(ones, f"{NAMES[which]} ignores the upstream gradient dout (it is the gradient "
                    "for dout = 1)")]
    n = x.size // x.shape[-1]
    if which == 2:
        slips.append((expected[2] / n, "db averages dout over the rows: it sums them"))
    return slips


def _backward(impl, which: int, pure: bool = False):
    x, W, b, dout = _case()
    # The student gets copies (except in the purity probe): an array modified in place
    # must not change the grader's expected values.
    out, cache = expect.pair(impl.linear(x.copy(), W.copy(), b.copy()), "linear")
    call = (lambda *a: expect.call_pure(impl.linear_backward, "linear_backward", *a)
            ) if pure else impl.linear_backward
    grads = _grads(call(dout if pure else dout.copy(), cache), 3, "linear_backward")
    expected = _math(x, W, b, dout)
    grad, name = grads[which], NAMES[which]
    if which == 1 and isinstance(grad, np.ndarray) and grad.shape == x.shape[:-2] + W.shape:
        expect.fail("3.1 linear_backward: dW has a batch axis: sum the per-example products "
                    "over every leading axis (reshape x and dY to (B*T, ·) first), so dW has "
                    "W's shape.")
    hint = {"dx": "dx = dY Wᵀ.", "dW": "dW = xᵀ dY, shape (in, out), summed over every row.",
            "db": "db sums dY over batch and time."}[name]
    n = x.size // x.shape[-1]
    close_or_slip(grad, expected[which], name, f"3.1 linear_backward: {name}", hint=hint,
                  candidates=_slips(which, x, W, b, dout, expected),
                  factors={"1/N (a mean over the N rows instead of a sum)": 1 / n},
                  gate=(matches(out, fx()["linear.out"]), "linear_values"))
    return impl, x, W, dout


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
    expect.close(out32, fx()["linear.out"], "linear of float32 inputs", **expect.F32)


@check("3.1")
def linear_shape_errors(impl):
    """ValueError when x, W and b do not fit, even where NumPy would broadcast"""
    x, W, b = get("linear.x"), get("linear.W"), get("linear.b")
    expect.pair(impl.linear(x, W, b), "linear")  # points only for a linear that works
    expect.raises(impl.linear, ValueError, "3.1 linear with b of shape (1,)", x, W, b[:1])
    expect.raises(impl.linear, ValueError, "3.1 linear with a 1-D W", x, W[:, 0], None)
    expect.raises(impl.linear, ValueError, "3.1 linear with x's last axis not W.shape[0]",
                  x[..., :-1], W, b)


@check("3.1")
def linear_backward_dx(impl):
    """dx = dY Wᵀ, and the backward modifies neither dout nor the cache"""
    _backward(impl, 0, pure=True)


@check("3.1")
def linear_backward_dW(impl):
    """dW = xᵀ dY, summed over batch and time"""
    _backward(impl, 1)


@check("3.1")
def linear_backward_db(impl):
    """db = Σ dY over batch and time; None without a bias"""
    impl, x, W, dout = _backward(impl, 2)
    _, cache_nb = expect.pair(impl.linear(x, W), "linear")
    grads = _grads(impl.linear_backward(dout.copy(), cache_nb), 3, "linear_backward")
    if grads[2] is not None:
        expect.fail("3.1 linear_backward should return db = None when the layer has no bias.")


@check("3.1")
def linear_backward_float32(impl):
    """float32 in, float32 gradients out"""
    x, W, b, dout = (a.astype(np.float32) for a in _case())
    _, cache32 = expect.pair(impl.linear(x, W, b), "linear")
    for grad, ref, name in zip(_grads(impl.linear_backward(dout, cache32), 3,
                                      "linear_backward"), (x, W, b), NAMES):
        expect.array(grad, f"{name} of float32 inputs", shape=ref.shape, dtype=np.float32)


@check("3.1", hidden=True)
def linear_finite_differences(impl):
    """x of any number of leading axes: forward and gradients (finite differences)"""
    x, W, b, dout = _case()
    n_in, n_out = W.shape
    for shape in ((n_in,), (x.size // n_in, n_in)):
        xs = x.reshape(-1, n_in)[0] if len(shape) == 1 else x.reshape(shape)
        ds = dout.reshape(-1, n_out)[0] if len(shape) == 1 else dout.reshape(-1, n_out)
        out, cache = expect.pair(impl.linear(xs.copy(), W.copy(), b.copy()), "linear")
        expect.close(out, xs @ W + b, f"3.1 linear on x of shape {shape}")
        grads = _grads(impl.linear_backward(ds.copy(), cache), 3, "linear_backward")
        arrays = [a.copy() for a in (xs, W, b)]
        expected = _math(xs, W, b, ds)
        for which, (grad, arr, name) in enumerate(zip(grads, arrays, NAMES)):
            want = numerical_gradient(
                lambda a=arrays, d=ds: float(np.sum(d * (a[0] @ a[1] + a[2]))), arr)
            close_or_slip(grad, want, name, f"3.1 linear_backward on x of shape {shape}: "
                          f"{name} (finite differences)",
                          candidates=_slips(which, xs, W, b, ds, expected), **expect.GRAD)
