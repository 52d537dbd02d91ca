"""Checks of exercise 1.5: Attention backward.

One check per returned gradient (dq, dk, dv), each against central differences of the
grader's own attention forward (`common.attention_math`), not of the student's forward, so
one slip costs only the gradient it touches.  The cache the backward gets is the student's
forward's own (its layout is theirs): a forward that raises or caches wrong values fails
these checks too, and the report then says to fix 1.4 first.
A wrong gradient is compared with the usual slips (a factor such as sqrt(d_k), a transposed
or swapped gradient, a missing term, an ignored mask or dout) before a cause is named.
"""

from __future__ import annotations

import numpy as np

from ... import expect
from ...sandbox import instrumented_call
from .. import check
from .common import (
    _case,
    _no_warnings,
    _sdpa,
    attention_math,
    gradient_slip,
    jacobian,
    matches,
    named_factor,
    ratio,
    skipped_until,
    softmax_math,
    vjp,
)

CASES = ("plain", "causal", "padding", "heads")
NAMES = "qkv"
FORMULAS = {
    "q": "dq = scale * dS @ k, where dS is the softmax backward of dP = dout @ v^T.",
    "k": "dk = scale * dS^T @ q (the transpose over the last two axes).",
    "v": "dv = P^T @ dout, with P the attention weights.",
}
# Factors by which a gradient can be off, as functions of the case's head size D.
FACTORS = {
    "the 1/sqrt(d_k) scale is missing from d{n}": lambda d: np.sqrt(d),
    "d{n} has an extra factor 1/sqrt(d_k)": lambda d: 1 / np.sqrt(d),
    "d{n} is multiplied by sqrt(d_k) instead of divided": lambda d: d,
    "the sign of d{n} is flipped": lambda d: -1.0,
}


def _backward(impl, case):
    """The student's (dq, dk, dv) for a case: their forward's cache, then their backward."""
    _, cache = _sdpa(impl, case)
    grads = expect.call_pure(impl.scaled_dot_product_attention_backward,
                             "scaled_dot_product_attention_backward", case["dout"], cache)
    if not (isinstance(grads, tuple) and len(grads) == 3):
        expect.fail("scaled_dot_product_attention_backward should return the tuple "
                    f"(dq, dk, dv), got {type(grads).__name__}.")
    return grads


def _truth(case, n, dout=None, masked=True):
    """The gradient w.r.t. q, k or v of sum(dout * attention(q, k, v, mask)), by central
    differences of the grader's forward."""
    args = {m: case[m] for m in NAMES}
    mask = case.get("mask") if masked else None

    def f(x):
        return attention_math(**{**args, n: x}, mask=mask)

    return vjp(jacobian(f, case[n]), case["dout"] if dout is None else dout, case[n].shape)


def _probe_case():
    """Inputs of other sizes (B=3, T_q=5, T_k=2, D=16, D_v=7) that tell factors apart."""
    rng = np.random.default_rng(15)
    q, k, v = (rng.standard_normal(s) for s in ((3, 5, 16), (3, 2, 16), (3, 2, 7)))
    return {"q": q, "k": k, "v": v, "dout": rng.standard_normal((3, 5, 7))}


def _alternatives(case, n):
    """What the usual wrong formulas give for d<n> (the grader's math, not the student's)."""
    q, k, v, dout = (case[m] for m in ("q", "k", "v", "dout"))
    scale = 1 / np.sqrt(q.shape[-1])
    mask = case.get("mask")
    s = q @ np.swapaxes(k, -1, -2) * scale
    p = softmax_math(s if mask is None else np.where(mask, s, -np.inf))
    dp = dout @ np.swapaxes(v, -1, -2)
    found = {"d{n} ignores dout (it is the gradient for dout = 1)":
             _truth(case, n, dout=np.ones_like(dout))}
    if mask is not None:
        found["the backward ignores the mask: masked (query, key) pairs get gradient"] = \
            _truth(case, n, masked=False)
    if n != "v":
        for cause, ds in (
                ("the softmax backward is skipped (dS = dP instead of P * (dP - sum(dP * P)))",
                 dp),
                ("the softmax backward lacks its -sum(dP * P) term", p * dp)):
            found[cause] = scale * (ds @ k if n == "q" else np.swapaxes(ds, -1, -2) @ q)
    return {cause.format(n=n): value for cause, value in found.items()}


def _diagnose(impl, case, n, got):
    """A cause confirmed on the student's arrays, or ""."""
    others = {f"{m} (d{m})": _truth(case, m) for m in NAMES if m != n}
    cause = gradient_slip(f"d{n}", got, _truth(case, n), others, _alternatives(case, n))
    if cause:
        return cause
    c = ratio(got, _truth(case, n))
    if c is None:
        return ""
    ratios = [(c, case["q"].shape[-1])]
    try:  # a second case with another head size tells sqrt(d_k) from a plain 2
        probe = _probe_case()
        c2 = ratio(_backward(impl, probe)[NAMES.index(n)], _truth(probe, n))
    except expect.CheckFailed:
        c2 = None
    if c2 is None:
        return ""
    ratios.append((c2, probe["q"].shape[-1]))
    factors = {name.format(n=n): value for name, value in FACTORS.items()}
    found = named_factor(ratios, factors)
    if not found:
        return ""
    return (f"{found} (d{n} is {c:.6g} times the true gradient with d_k = {ratios[0][1]})"
            if found in factors else f"d{n} is off by {found}")


def _check_gradient(impl, n, cases=None):
    cases = cases or {name: _case(name) for name in CASES}
    for name, case in cases.items():
        grads = _backward(impl, case)
        got, want = grads[NAMES.index(n)], _truth(case, n)
        if matches(got, want):
            continue
        label = f"d{n} ({name} case)"
        cause = _diagnose(impl, case, n, got)
        hint = expect.cause(cause) if cause else FORMULAS[n]
        if isinstance(got, np.ndarray) and got.shape != want.shape:
            expect.fail(f"{label} has shape {got.shape}, expected {want.shape} (the shape of "
                        f"{n}). {hint}")
        expect.array(got, label, shape=want.shape)
        expect.close(got, want, label, hint=hint, **expect.GRAD)


@check("1.5", weight=2)
def attention_backward_dq(impl):
    """dq is the true gradient (plain, causal, padding, (B, H, T, D)); inputs unchanged"""
    _check_gradient(impl, "q")


@check("1.5", weight=2)
def attention_backward_dk(impl):
    """dk is the true gradient, with and without masks"""
    _check_gradient(impl, "k")


@check("1.5", weight=2)
def attention_backward_dv(impl):
    """dv is the true gradient, with and without masks"""
    _check_gradient(impl, "v")


@check("1.5", weight=2, hidden=True)
def attention_backward_finite_differences(impl):
    """dq, dk, dv agree with finite differences on inputs of other sizes (D = 16)"""
    probe = _probe_case()
    for n in NAMES:
        _check_gradient(impl, n, {"B=3, T_q=5, T_k=2, D=16": probe})


def _right_gradients(impl):
    """The gradients (of q, k, v) the student gets right on the plain case."""
    case = _case("plain")
    try:
        grads = _backward(impl, case)
    except expect.CheckFailed:
        grads = ()
    right = [n for n, g in zip(NAMES, grads) if matches(g, _truth(case, n))]
    if not right:
        skipped_until("attention_backward_dq, _dk or _dv")
    return right


@check("1.5")
def attention_backward_masked_rows(impl):
    """a fully masked row gets zero gradient, with no NaN and no warning"""
    right = _right_gradients(impl)
    case = _case("fully_masked")
    _, cache = _sdpa(impl, case)
    grads, info = instrumented_call(impl.scaled_dot_product_attention_backward, case["dout"],
                                    cache)
    _no_warnings(info, "scaled_dot_product_attention_backward")
    if not (isinstance(grads, tuple) and len(grads) == 3):
        expect.fail("scaled_dot_product_attention_backward should return (dq, dk, dv).")
    for n in right:
        g = grads[NAMES.index(n)]
        expect.array(g, f"d{n} with a fully masked row", shape=case[n].shape)
        expect.close(g, _truth(case, n), f"d{n} with a fully masked row",
                     hint="A query that sees no key has all-zero weights: it gets dq = 0 and "
                          "passes no gradient to k and v.", **expect.GRAD)


@check("1.5")
def attention_backward_float32(impl):
    """float32 inputs give float32 gradients"""
    right = _right_gradients(impl)
    plain = _case("plain")
    q, k, v, dout = (plain[n].astype(np.float32) for n in ("q", "k", "v", "dout"))
    _, cache = expect.pair(impl.scaled_dot_product_attention(q, k, v),
                           "scaled_dot_product_attention")
    grads32 = impl.scaled_dot_product_attention_backward(dout, cache)
    if not (isinstance(grads32, tuple) and len(grads32) == 3):
        expect.fail("scaled_dot_product_attention_backward should return (dq, dk, dv).")
    for n, g in zip(NAMES, grads32):
        if n not in right:  # only its dtype: its values fail in another check
            expect.array(g, f"d{n} of float32 inputs", dtype=np.float32, finite=False)
            continue
        expect.array(g, f"d{n} of float32 inputs", shape=plain[n].shape, dtype=np.float32)
        expect.close(g, _truth(plain, n), f"d{n} of float32 inputs", **expect.F32)
