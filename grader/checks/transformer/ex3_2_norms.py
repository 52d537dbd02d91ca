"""Checks of exercise 3.2: LayerNorm and RMSNorm."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import check_gradient_of
from .. import check
from .common import _grads, _matches, fx, get


@check("3.2", weight=2)
def layer_norm_values(impl):
    """normalise over the last axis with the biased variance, eps inside the sqrt"""
    x, gamma, beta = get("ln.x"), get("ln.gamma"), get("ln.beta")
    eps = float(fx()["ln.eps"])
    out, _ = expect.pair(expect.call_pure(impl.layer_norm, "layer_norm", x, gamma, beta,
                                          eps=eps), "layer_norm")
    expect.array(out, "layer_norm", shape=x.shape, dtype=np.float64)
    if _matches(out, "ln.bug.eps_outside"):
        expect.fail("layer_norm puts eps outside the square root: (x - mean) / (std + eps). "
                    "It goes inside: (x - mean) / sqrt(var + eps).")
    if _matches(out, "ln.bug.unbiased"):
        expect.fail("layer_norm uses the unbiased variance (divides by n - 1). LayerNorm uses "
                    "the biased one: mean of squared deviations, divided by n.")
    expect.close(out, fx()["ln.out"], "layer_norm(x, gamma, beta)",
                 hint="Normalise over the last axis only (keepdims=True), then scale and "
                      "shift.")
    out32, _ = expect.pair(impl.layer_norm(x.astype(np.float32), gamma.astype(np.float32),
                                           beta.astype(np.float32), eps=eps), "layer_norm")
    expect.array(out32, "layer_norm of float32 inputs", shape=x.shape, dtype=np.float32)


@check("3.2", weight=3)
def layer_norm_backward_values(impl):
    """dx, dgamma and dbeta of LayerNorm"""
    x, gamma, beta, dout = get("ln.x"), get("ln.gamma"), get("ln.beta"), get("ln.dout")
    eps = float(fx()["ln.eps"])
    out, cache = expect.pair(impl.layer_norm(x, gamma, beta, eps=eps), "layer_norm")
    expect.require_correct(out, fx()["ln.out"], "layer_norm", "3.2")
    dx, dgamma, dbeta = _grads(impl.layer_norm_backward(dout, cache), 3,
                               "layer_norm_backward")
    expect.array(dgamma, "dgamma", shape=gamma.shape)
    expect.array(dbeta, "dbeta", shape=beta.shape)
    expect.close(dbeta, fx()["ln.dbeta"], "dbeta", hint="dbeta sums dY over batch and time.")
    expect.close(dgamma, fx()["ln.dgamma"], "dgamma", hint="dgamma sums dY * x_hat.")
    f32 = [a.astype(np.float32) for a in (x, gamma, beta, dout)]
    _, cache32 = expect.pair(impl.layer_norm(*f32[:3], eps=eps), "layer_norm")
    for grad, ref, name in zip(_grads(impl.layer_norm_backward(f32[3], cache32), 3,
                                      "layer_norm_backward"), (x, gamma, beta),
                               ("dx", "dgamma", "dbeta")):
        expect.array(grad, f"LayerNorm {name} of float32 inputs", shape=ref.shape,
                     dtype=np.float32)
    expect.array(dx, "dx", shape=x.shape)
    expect.close(dx, fx()["ln.dx"], "dx",
                 hint="With g = dY * gamma: dx = (g - mean(g) - x_hat * mean(g * x_hat)) / "
                      "sqrt(var + eps), means over the normalised axis.")


@check("3.2", weight=2)
def rms_norm_values_and_backward(impl):
    """RMSNorm forward and backward"""
    x, gamma, dout = get("rms.x"), get("rms.gamma"), get("rms.dout")
    out, cache = expect.pair(expect.call_pure(impl.rms_norm, "rms_norm", x, gamma),
                             "rms_norm")
    expect.array(out, "rms_norm", shape=x.shape, dtype=np.float64)
    if _matches(out, "rms.bug.eps_outside"):
        expect.fail("rms_norm puts eps outside the square root; it goes inside: "
                    "x / sqrt(mean(x^2) + eps).")
    expect.close(out, fx()["rms.out"], "rms_norm(x, gamma)",
                 hint="RMSNorm does not subtract the mean: y = x / sqrt(mean(x^2) + eps) * "
                      "gamma, default eps 1e-6.")
    dx, dgamma = _grads(impl.rms_norm_backward(dout, cache), 2, "rms_norm_backward")
    expect.close(dgamma, fx()["rms.dgamma"], "RMSNorm dgamma")
    expect.close(dx, fx()["rms.dx"], "RMSNorm dx")
    out32, cache32 = expect.pair(impl.rms_norm(x.astype(np.float32), gamma.astype(np.float32)),
                                 "rms_norm")
    expect.array(out32, "rms_norm of float32 inputs", shape=x.shape, dtype=np.float32)
    for grad, ref, name in zip(_grads(impl.rms_norm_backward(dout.astype(np.float32), cache32),
                                      2, "rms_norm_backward"), (x, gamma), ("dx", "dgamma")):
        expect.array(grad, f"RMSNorm {name} of float32 inputs", shape=ref.shape,
                     dtype=np.float32)


@check("3.2", hidden=True)
def layer_norm_finite_differences(impl):
    """LayerNorm's backward agrees with finite differences of your own forward"""
    x, gamma, beta, dout = get("ln.x"), get("ln.gamma"), get("ln.beta"), get("ln.dout")
    eps = float(fx()["ln.eps"])
    out, cache = expect.pair(impl.layer_norm(x, gamma, beta, eps=eps), "layer_norm")
    expect.require_correct(out, fx()["ln.out"], "layer_norm", "3.2")
    dx, dgamma, dbeta = _grads(impl.layer_norm_backward(dout, cache), 3,
                               "layer_norm_backward")

    for grad, arr, name in ((dx, x, "dx"), (dgamma, gamma, "dgamma"), (dbeta, beta, "dbeta")):
        check_gradient_of(grad, impl.layer_norm, (x, gamma, beta), {"eps": eps}, arr, dout,
                          f"LayerNorm {name} (finite differences)")
