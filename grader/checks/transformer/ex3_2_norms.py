"""Checks of exercise 3.2: LayerNorm and RMSNorm.

The backward checks take their expected gradients from finite differences of the grader's
own forward (the formulas below, not the student's), one check per returned gradient, so a
wrong forward hides no backward bug: a gradient is graded whenever it is right, and skipped
(until the forward's check passes) only when it is wrong while the student's forward is wrong
on the same input, since the backward works from the forward's cache.
"""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import _grads, _matches, close_or_slip, fx, get, matches, skipped_until

LN_EPS, RMS_EPS = 1e-5, 1e-6  # the documented defaults


def _mean(v):
    return v.mean(axis=-1, keepdims=True)


def _ln(x, gamma, beta, eps):
    """The grader's LayerNorm: (out, xhat, rstd)."""
    xc = x - _mean(x)
    rstd = 1.0 / np.sqrt(_mean(xc * xc) + eps)
    return xc * rstd * gamma + beta, xc * rstd, rstd


def _rms(x, gamma, eps):
    """The grader's RMSNorm: (out, xhat, rrms)."""
    rrms = 1.0 / np.sqrt(_mean(x * x) + eps)
    return x * rrms * gamma, x * rrms, rrms


def _fd(forward, arrays, dout):
    """The gradient of sum(dout * forward(*arrays)) w.r.t. each of `arrays`, by complex
    steps: Im f(a + ih e_i) / h is the derivative to rounding (no difference of two nearby
    values, so no step-size error however small the row's variance; `_ln` and `_rms` are
    analytic in their inputs)."""
    step = 1e-30
    grads = []
    for k, a in enumerate(arrays):
        grad = np.zeros(a.shape)
        for index in np.ndindex(a.shape):
            args = [b.astype(complex) if j == k else b for j, b in enumerate(arrays)]
            args[k][index] += step * 1j
            grad[index] = np.sum(dout * forward(*args)).imag / step
        grads.append(grad)
    return tuple(grads)


def _rows(v):
    return v.reshape(-1, v.shape[-1]).sum(axis=0)


def _ln_case():
    x, gamma, beta, dout = get("ln.x"), get("ln.gamma"), get("ln.beta"), get("ln.dout")
    return x, gamma, beta, dout, float(fx()["ln.eps"])


def _ln_backward(impl, x, gamma, beta, dout, eps, pure=False):
    """Run the student's forward then backward: (their forward output, (dx, dgamma, dbeta))."""
    # The student gets copies (except in the purity probe): an array modified in place
    # must not change the grader's expected values.
    out, cache = expect.pair(impl.layer_norm(x.copy(), gamma.copy(), beta.copy(), eps=eps),
                             "layer_norm")
    call = (lambda *a: expect.call_pure(impl.layer_norm_backward, "layer_norm_backward", *a)
            ) if pure else impl.layer_norm_backward
    return out, _grads(call(dout if pure else dout.copy(), cache), 3, "layer_norm_backward")


def _swapped(grads, expected) -> bool:
    """Does the student's dgamma hold dbeta and their dbeta dgamma?"""
    return (matches(grads[1], expected[2], **expect.GRAD)
            and matches(grads[2], expected[1], **expect.GRAD))


SWAPPED = ("dgamma and dbeta are swapped: dgamma sums dout * xhat, dbeta sums dout "
           "(the backward returns dx, dgamma, dbeta in that order)")


def _ln_dx_slips(x, gamma, beta, dout, eps):
    """(what a wrong dx formula gives, the slip) on these inputs."""
    _, xhat, rstd = _ln(x, gamma, beta, eps)
    g = dout * gamma
    g1 = np.ones_like(dout) * gamma
    n = x.reshape(-1, x.shape[-1]).shape[0]
    sums = np.sum(g, axis=-1, keepdims=True), np.sum(g * xhat, axis=-1, keepdims=True)
    return [
        (rstd * g, "dx treats mu and var as constants: both terms -mean(g) and "
                   "-xhat * mean(g * xhat) are missing"),
        (rstd * (g - xhat * _mean(g * xhat)), "dx lacks the -mean(g) term (the gradient "
                                              "through the mean mu)"),
        (rstd * (g - _mean(g)), "dx lacks the -xhat * mean(g * xhat) term (the gradient "
                                "through the variance)"),
        (g - _mean(g) - xhat * _mean(g * xhat), "dx is not multiplied by rstd = "
                                                "1 / sqrt(var + eps)"),
        (rstd * (dout - _mean(dout) - xhat * _mean(dout * xhat)),
         "dx uses dout where g = dout * gamma belongs (gamma is missing)"),
        (rstd * (g1 - _mean(g1) - xhat * _mean(g1 * xhat)),
         "dx ignores the upstream gradient dout (it is the gradient for dout = 1)"),
        (rstd * (g - sums[0] - xhat * sums[1]),
         "dx sums over the features where the formula takes means (mean(g), "
         "mean(g * xhat))"),
        (rstd * (g - _mean(g) - xhat * _mean(g * xhat)) / n, "dx is divided by the number of "
                                                             "rows N"),
    ]


@check("3.2", weight=2)
def layer_norm_values(impl):
    """normalise over the last axis with the biased variance, eps inside the sqrt"""
    x, gamma, beta = get("ln.x"), get("ln.gamma"), get("ln.beta")
    eps = float(fx()["ln.eps"])
    out, _ = expect.pair(expect.call_pure(impl.layer_norm, "layer_norm", x, gamma, beta,
                                          eps=eps), "layer_norm")
    expect.array(out, "layer_norm", shape=x.shape, dtype=np.float64)
    if _matches(out, "ln.bug.eps_outside"):
        expect.fail("3.2 layer_norm(x, gamma, beta, eps) is wrong. " + expect.cause(
            "layer_norm puts eps outside the square root: (x - mean) / (std + eps). It goes "
            "inside: (x - mean) / sqrt(var + eps)"))
    if _matches(out, "ln.bug.unbiased"):
        expect.fail("3.2 layer_norm(x, gamma, beta, eps) is wrong. " + expect.cause(
            "layer_norm uses the unbiased variance (divides by n - 1). LayerNorm uses the "
            "biased one: mean of squared deviations, divided by n"))
    expect.close(out, fx()["ln.out"], "3.2 layer_norm(x, gamma, beta)",
                 hint="Normalise over the last axis only (keepdims=True), then scale and "
                      "shift.")
    out32, _ = expect.pair(impl.layer_norm(x.astype(np.float32), gamma.astype(np.float32),
                                           beta.astype(np.float32), eps=eps), "layer_norm")
    expect.array(out32, "3.2 layer_norm of float32 inputs", shape=x.shape, dtype=np.float32)
    expect.close(out32, fx()["ln.out"], "3.2 layer_norm of float32 inputs", **expect.F32)


@check("3.2")
def layer_norm_default_eps(impl):
    """called without eps, layer_norm uses eps = 1e-5"""
    x, gamma, beta = get("ln.x") * 1e-2, get("ln.gamma"), get("ln.beta")  # var ~ eps
    right = _ln(x, gamma, beta, LN_EPS)[0]
    out, _ = expect.pair(impl.layer_norm(x, gamma, beta), "layer_norm")
    if matches(out, right):
        return
    explicit, _ = expect.pair(impl.layer_norm(x, gamma, beta, eps=LN_EPS), "layer_norm")
    if not matches(explicit, right):
        skipped_until("layer_norm_values", "layer_norm(x, gamma, beta, eps=1e-5) is wrong "
                      "too.", "3.2 layer_norm(x, gamma, beta) without eps")
    expect.close(out, right, "3.2 layer_norm(x, gamma, beta) without eps (a variance near "
                 "1e-5)", hint=expect.cause("the default eps is not 1e-5: "
                                            "layer_norm(..., eps=1e-5) is right, the call "
                                            "without eps is not"))


@check("3.2")
def norm_errors(impl):
    """ValueError for a gamma or beta that is not (C,), and for eps < 0"""
    x, gamma, beta = get("ln.x"), get("ln.gamma"), get("ln.beta")
    one = gamma[:1]  # (1,) broadcasts silently: only the stated check rejects it
    expect.pair(impl.layer_norm(x, gamma, beta), "layer_norm")  # points only for working
    expect.pair(impl.rms_norm(x, gamma), "rms_norm")  # functions
    expect.raises(impl.layer_norm, ValueError, "3.2 layer_norm with gamma of shape (1,)",
                  x, one, beta)
    expect.raises(impl.layer_norm, ValueError, "3.2 layer_norm with beta of shape (1,)",
                  x, gamma, beta[:1])
    expect.raises(impl.layer_norm, ValueError, "3.2 layer_norm with eps=-1e-4", x, gamma, beta,
                  eps=-1e-4)
    expect.raises(impl.rms_norm, ValueError, "3.2 rms_norm with gamma of shape (1,)", x, one)
    expect.raises(impl.rms_norm, ValueError, "3.2 rms_norm with eps=-1e-4", x, gamma,
                  eps=-1e-4)


@check("3.2", weight=2)
def layer_norm_backward_dx(impl):
    """LayerNorm's dx (finite differences of the grader's LayerNorm), inputs unchanged"""
    x, gamma, beta, dout, eps = _ln_case()
    out, (dx, _, _) = _ln_backward(impl, x, gamma, beta, dout, eps, pure=True)
    expected = _fd(lambda *a: _ln(*a, eps)[0], (x, gamma, beta), dout)[0]
    close_or_slip(dx, expected, "dx", "3.2 layer_norm_backward: dx",
                  hint="With g = dY * gamma: dx = (g - mean(g) - x_hat * mean(g * x_hat)) / "
                       "sqrt(var + eps), means over the normalised axis.",
                  candidates=_ln_dx_slips(x, gamma, beta, dout, eps),
                  factors={"C": x.shape[-1], "1/C": 1 / x.shape[-1]},
                  gate=(matches(out, _ln(x, gamma, beta, eps)[0]), "layer_norm_values"),
                  **expect.GRAD)


def _ln_param_grad(impl, which: int):
    x, gamma, beta, dout, eps = _ln_case()
    out, grads = _ln_backward(impl, x, gamma, beta, dout, eps)
    expected = _fd(lambda *a: _ln(*a, eps)[0], (x, gamma, beta), dout)
    name = ("dx", "dgamma", "dbeta")[which]
    _, xhat, _ = _ln(x, gamma, beta, eps)
    n = x.size // x.shape[-1]
    if _swapped(grads, expected):
        slips = [(expected[3 - which], SWAPPED)]
    elif which == 1:
        slips = [(_rows(dout), "dgamma sums dout without the factor xhat"),
                 (_rows(dout * x), "dgamma multiplies dout by x where xhat belongs"),
                 (_rows(xhat), "dgamma ignores the upstream gradient dout")]
    else:
        slips = [(np.full_like(beta, n), "dbeta ignores the upstream gradient dout"),
                 (_rows(dout * xhat), "dbeta multiplies dout by xhat: dbeta sums dout alone")]
    close_or_slip(grads[which], expected[which], name, f"3.2 layer_norm_backward: {name}",
                  hint=("dgamma sums dY * x_hat over every leading axis." if which == 1 else
                        "dbeta sums dY over every leading axis."), candidates=slips,
                  factors={"1/N (a mean over the N rows instead of a sum)": 1 / n},
                  gate=(matches(out, _ln(x, gamma, beta, eps)[0]), "layer_norm_values"),
                  **expect.GRAD)


@check("3.2")
def layer_norm_backward_dgamma(impl):
    """LayerNorm's dgamma = sum of dout * xhat over every leading axis"""
    _ln_param_grad(impl, 1)


@check("3.2")
def layer_norm_backward_dbeta(impl):
    """LayerNorm's dbeta = sum of dout over every leading axis"""
    _ln_param_grad(impl, 2)


@check("3.2")
def rms_norm_values(impl):
    """RMSNorm forward: default eps 1e-6 and another eps, float32 kept"""
    x, gamma = get("rms.x"), get("rms.gamma")
    out, _ = expect.pair(expect.call_pure(impl.rms_norm, "rms_norm", x, gamma), "rms_norm")
    expect.array(out, "rms_norm", shape=x.shape, dtype=np.float64)
    if _matches(out, "rms.bug.eps_outside"):
        expect.fail("3.2 rms_norm(x, gamma) is wrong. " + expect.cause(
            "rms_norm puts eps outside the square root; it goes inside: "
            "x / sqrt(mean(x^2) + eps)"))
    hint = "RMSNorm does not subtract the mean: y = x / sqrt(mean(x^2) + eps) * gamma."
    eps = 1e-3  # of the size of mean(x^2) here: its place in the formula shows
    other, _ = expect.pair(impl.rms_norm(x, gamma, eps=eps), "rms_norm")
    expect.close(other, _rms(x, gamma, eps)[0], f"3.2 rms_norm(x, gamma, eps={eps})",
                 hint=hint)
    if not matches(out, fx()["rms.out"]):
        explicit, _ = expect.pair(impl.rms_norm(x, gamma, eps=RMS_EPS), "rms_norm")
        if matches(explicit, fx()["rms.out"]):
            hint = expect.cause("the default eps is not 1e-6: rms_norm(..., eps=1e-6) is "
                                "right, the call without eps is not")
    expect.close(out, fx()["rms.out"], "3.2 rms_norm(x, gamma) without eps", hint=hint)
    out32, _ = expect.pair(impl.rms_norm(x.astype(np.float32), gamma.astype(np.float32)),
                           "rms_norm")
    expect.array(out32, "3.2 rms_norm of float32 inputs", shape=x.shape, dtype=np.float32)
    expect.close(out32, fx()["rms.out"], "3.2 rms_norm of float32 inputs", **expect.F32)


def _rms_backward(impl, which: int):
    x, gamma, dout = get("rms.x"), get("rms.gamma"), get("rms.dout")
    out, cache = expect.pair(impl.rms_norm(x.copy(), gamma.copy(), eps=RMS_EPS), "rms_norm")
    call = impl.rms_norm_backward if which else (
        lambda *a: expect.call_pure(impl.rms_norm_backward, "rms_norm_backward", *a))
    grads = _grads(call(dout.copy() if which else dout, cache), 2, "rms_norm_backward")
    expected = _fd(lambda *a: _rms(*a, RMS_EPS)[0], (x, gamma), dout)
    right_out, xhat, rrms = _rms(x, gamma, RMS_EPS)
    name = ("dx", "dgamma")[which]
    n = x.size // x.shape[-1]
    g, g1 = dout * gamma, np.ones_like(dout) * gamma
    if which == 0:
        slips = [(rrms * g, "dx treats the rms as a constant: the -xhat * mean(g * xhat) term "
                            "is missing"),
                 (g - xhat * _mean(g * xhat), "dx is not multiplied by 1 / rms"),
                 (rrms * (g - _mean(g) - xhat * _mean(g * xhat)),
                  "dx subtracts mean(g), a term of LayerNorm's gradient: RMSNorm subtracts no "
                  "mean, so its dx has no such term"),
                 (rrms * (dout - xhat * _mean(dout * xhat)),
                  "dx uses dout where g = dout * gamma belongs (gamma is missing)"),
                 (rrms * (g1 - xhat * _mean(g1 * xhat)),
                  "dx ignores the upstream gradient dout (it is the gradient for dout = 1)")]
        hint = "With g = dY * gamma: dx = (g - x_hat * mean(g * x_hat)) / rms."
        factors = {"C": x.shape[-1], "1/C": 1 / x.shape[-1]}
    else:
        slips = [(_rows(dout), "dgamma sums dout without the factor xhat"),
                 (_rows(dout * x), "dgamma multiplies dout by x where xhat belongs"),
                 (_rows(xhat), "dgamma ignores the upstream gradient dout")]
        hint = "dgamma sums dY * x_hat over every leading axis."
        factors = {"1/N (a mean over the N rows instead of a sum)": 1 / n}
    close_or_slip(grads[which], expected[which], name, f"3.2 rms_norm_backward: {name}",
                  hint=hint, candidates=slips, factors=factors,
                  gate=(matches(out, right_out), "rms_norm_values"), **expect.GRAD)


@check("3.2")
def rms_norm_backward_dx(impl):
    """RMSNorm's dx (finite differences of the grader's RMSNorm), inputs unchanged"""
    _rms_backward(impl, 0)


@check("3.2")
def rms_norm_backward_dgamma(impl):
    """RMSNorm's dgamma = sum of dout * xhat over every leading axis"""
    _rms_backward(impl, 1)


@check("3.2")
def norm_backward_float32(impl):
    """float32 in, float32 gradients out, for both backwards"""
    x, gamma, beta, dout, eps = (a.astype(np.float32) if isinstance(a, np.ndarray) else a
                                 for a in _ln_case())
    _, cache = expect.pair(impl.layer_norm(x, gamma, beta, eps=eps), "layer_norm")
    for grad, ref, name in zip(_grads(impl.layer_norm_backward(dout, cache), 3,
                                      "layer_norm_backward"), (x, gamma, beta),
                               ("dx", "dgamma", "dbeta")):
        expect.array(grad, f"3.2 LayerNorm {name} of float32 inputs", shape=ref.shape,
                     dtype=np.float32)
    x, gamma, dout = (get(k).astype(np.float32) for k in ("rms.x", "rms.gamma", "rms.dout"))
    _, cache = expect.pair(impl.rms_norm(x, gamma), "rms_norm")
    for grad, ref, name in zip(_grads(impl.rms_norm_backward(dout, cache), 2,
                                      "rms_norm_backward"), (x, gamma), ("dx", "dgamma")):
        expect.array(grad, f"3.2 RMSNorm {name} of float32 inputs", shape=ref.shape,
                     dtype=np.float32)


@check("3.2", hidden=True)
def layer_norm_finite_differences(impl):
    """LayerNorm's gradients on a single vector (C,) and on (N, C) rows"""
    x, gamma, beta, dout, eps = _ln_case()
    c = x.shape[-1]
    for shape in ((c,), (x.size // c, c)):
        xs, douts = (a.reshape(-1, c)[0] if len(shape) == 1 else a.reshape(shape)
                     for a in (x, dout))
        out, grads = _ln_backward(impl, xs, gamma, beta, douts, eps)
        expected = _fd(lambda *a: _ln(*a, eps)[0], (xs, gamma, beta), douts)
        right = matches(out, _ln(xs, gamma, beta, eps)[0])
        n = xs.size // c
        for grad, want, name in zip(grads, expected, ("dx", "dgamma", "dbeta")):
            slips = _ln_dx_slips(xs, gamma, beta, douts, eps) if name == "dx" else ()
            factors = ({"C": c, "1/C": 1 / c} if name == "dx" else
                       {"1/N (a mean over the N rows instead of a sum)": 1 / n})
            close_or_slip(grad, want, name, f"3.2 layer_norm_backward on x of shape {shape}: "
                          f"{name}", candidates=slips, factors=factors,
                          gate=(right, "layer_norm_values"), **expect.GRAD)
