"""Checks of exercise 1.8: Multi-head attention backward.

One check per returned gradient (dx_q, dx_kv, dparams), each against central differences of
the grader's own forward (`common.mha_math`), not of the student's forward, so one slip
costs only the gradient it touches.  The cache the backward gets is the student's forward's
own: a forward that raises or caches wrong values fails these checks too (fix 1.7 first).  A wrong
gradient is compared with the usual slips (a factor such as 1/B, a transposed or swapped
gradient, a missing path, W_o skipped, dout ignored) before a cause is named.
"""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import (
    PARAM_NAMES,
    _mha,
    _mha_case,
    gradient_slip,
    jacobian,
    matches,
    mha_math,
    named_factor,
    ratio,
    skipped_until,
    vjp,
)

CASES = ("cross", "padded")
BACKWARD_ORDER = ("W_o", "b_o", "W_v", "b_v", "W_k", "b_k", "W_q", "b_q")
# Factors by which a gradient can be off, as functions of the case's sizes.
FACTORS = {
    "{g} is averaged over the batch instead of summed": lambda s: 1 / s["B"],
    "{g} is averaged over the B*T rows instead of summed": lambda s: 1 / (s["B"] * s["T"]),
    "the 1/sqrt(d_k) scale of the attention is missing from {g}": lambda s: np.sqrt(s["D"]),
    "the sign of {g} is flipped": lambda s: -1.0,
}


def _backward(impl, case):
    """The student's (dx_q, dx_kv, dparams): their forward's cache, then their backward."""
    _, cache = _mha(impl, case)
    grads = expect.call_pure(impl.multi_head_attention_backward,
                             "multi_head_attention_backward", case["dout"], cache)
    if not (isinstance(grads, tuple) and len(grads) == 3 and isinstance(grads[2], dict)):
        expect.fail("multi_head_attention_backward should return (dx_q, dx_kv, dparams) "
                    "with dparams a dict keyed like params.")
    missing = sorted(set(PARAM_NAMES) - set(grads[2]))
    if missing:
        expect.fail(f"dparams is missing {missing}; it needs the same keys as params.")
    return grads


def _truth(case, wrt, dout=None, params=None, wo_identity=False):
    """The gradient w.r.t. `wrt` (x_q, x_kv, its key or value path x_k / x_v, or a parameter)
    of sum(dout * mha(...)), by central differences of the grader's forward."""
    params = dict(case["params"] if params is None else params)
    if wo_identity:  # the gradient a backward that skips W_o computes
        params["W_o"] = np.eye(params["W_o"].shape[0])
    x_q = case["x_q"]
    x_kv = case.get("x_kv", x_q)

    def f(x):
        xs = {"x_q": x_q, "x_k": x_kv, "x_v": x_kv}
        ps = dict(params)
        if wrt == "x_kv":
            xs["x_k"] = xs["x_v"] = x
        elif wrt in xs:
            xs[wrt] = x
        else:
            ps[wrt] = x
        return mha_math(xs["x_q"], xs["x_k"], xs["x_v"], ps, case["n_heads"], case["mask"])

    x = {"x_q": x_q, "x_kv": x_kv, "x_k": x_kv, "x_v": x_kv}.get(wrt)
    x = params[wrt] if x is None else x
    return vjp(jacobian(f, x), case["dout"] if dout is None else dout, x.shape)


def _sizes(case, wrt):
    b, t_q, c = case["x_q"].shape
    t_k = case.get("x_kv", case["x_q"]).shape[1]
    rows = t_q if wrt in ("x_q", "W_q", "b_q", "W_o", "b_o") else t_k
    return {"B": b, "T": rows, "D": c // case["n_heads"]}


def _probe_case():
    """Other sizes (B=3, T_q=4, T_k=2, C=10, 2 heads of 5) that tell factors apart."""
    rng = np.random.default_rng(15)
    c = 10
    params = {p: rng.standard_normal((c, c) if p.startswith("W") else (c,)) * 0.4
              for p in PARAM_NAMES}
    return {"x_q": rng.standard_normal((3, 4, c)), "x_kv": rng.standard_normal((3, 2, c)),
            "params": params, "n_heads": 2, "mask": None,
            "dout": rng.standard_normal((3, 4, c))}


def _pick(grads, wrt):
    return {"x_q": grads[0], "x_kv": grads[1]}.get(wrt, grads[2].get(wrt))


def _diagnose(impl, case, wrt, label, got) -> str:
    """A cause confirmed on the student's arrays, or ""."""
    want = _truth(case, wrt)
    if wrt.startswith("x"):
        others = {"x_kv" if wrt == "x_q" else "x_q": None}
    else:
        others = {p: None for p in PARAM_NAMES if p != wrt and p[0] == wrt[0]}
    others = {f"{o} (d{o})": _truth(case, o) for o in others}
    alternatives = {f"{label} ignores dout (it is the gradient for dout = 1)":
                    _truth(case, wrt, dout=np.ones_like(case["dout"]))}
    if not wrt.endswith("_o"):
        alternatives["the gradient into the merged heads skips W_o (it must be d(merged) = "
                     "dout @ W_o^T)"] = _truth(case, wrt, wo_identity=True)
    if wrt == "x_kv":
        alternatives["dx_kv misses the value path dv @ W_v^T (keys and values both read "
                     "x_kv)"] = _truth(case, "x_k")
        alternatives["dx_kv misses the key path dk @ W_k^T (keys and values both read "
                     "x_kv)"] = _truth(case, "x_v")
    cause = gradient_slip(label, got, want, others, alternatives)
    if cause:
        return cause
    c = ratio(got, want)
    if c is None:
        return ""
    try:  # a second case of other sizes tells 1/B or sqrt(D) from a plain constant
        probe = _probe_case()
        c2 = ratio(_pick(_backward(impl, probe), wrt), _truth(probe, wrt))
    except expect.CheckFailed:
        c2 = None
    if c2 is None:
        return ""
    factors = {name.format(g=label): value for name, value in FACTORS.items()}
    found = named_factor([(c, _sizes(case, wrt)), (c2, _sizes(probe, wrt))], factors)
    if not found:
        return ""
    return (f"{found} ({label} is {c:.6g} times the true gradient here)" if found in factors
            else f"{label} is off by {found}")


def _compare(impl, case, name, wrt, got, advice=""):
    """`got` must be the true gradient w.r.t. `wrt`; a confirmed slip is named."""
    label = "dx_q" if wrt == "x_q" else "dx_kv" if wrt == "x_kv" else f"d{wrt}"
    want = _truth(case, wrt)
    if matches(got, want):
        return
    cause = _diagnose(impl, case, wrt, label, got)
    hint = expect.cause(cause) if cause else advice
    where = f"{label} ({name})"
    if isinstance(got, np.ndarray) and got.shape != want.shape:
        expect.fail(f"{where} has shape {got.shape}, expected {want.shape}. "
                    + (hint or "Check which axis you reduced, transposed or broadcast over."))
    expect.array(got, where, shape=want.shape)
    expect.close(got, want, where, hint=hint, **expect.GRAD)


@check("1.8", weight=2)
def mha_backward_dx_q(impl):
    """dx_q is the true gradient (cross-attention, with and without padding); inputs kept"""
    for name in CASES:
        case = _mha_case(name)
        _compare(impl, case, name, "x_q", _backward(impl, case)[0], "dx_q = dq @ W_q^T.")


@check("1.8", weight=2)
def mha_backward_dx_kv(impl):
    """dx_kv is the true gradient (both the key and the value path)"""
    for name in CASES:
        case = _mha_case(name)
        _compare(impl, case, name, "x_kv", _backward(impl, case)[1],
                 "dx_kv collects both paths: dk @ W_k^T + dv @ W_v^T.")


@check("1.8", weight=2)
def mha_backward_dparams(impl):
    """every parameter gradient (W_o, b_o, W_v, b_v, W_k, b_k, W_q, b_q) is the true one"""
    _check_dparams(impl, {name: _mha_case(name) for name in CASES})


@check("1.8", weight=2, hidden=True)
def mha_backward_finite_differences(impl):
    """every gradient agrees with finite differences on inputs of other sizes (C=10, H=2)"""
    name, probe = "B=3, T_q=4, T_k=2, C=10, H=2", _probe_case()
    dx_q, dx_kv, _ = _backward(impl, probe)
    _compare(impl, probe, name, "x_q", dx_q, "dx_q = dq @ W_q^T.")
    _compare(impl, probe, name, "x_kv", dx_kv, "dx_kv = dk @ W_k^T + dv @ W_v^T.")
    _check_dparams(impl, {name: probe})


def _check_dparams(impl, cases):
    for name, case in cases.items():
        dparams = _backward(impl, case)[2]
        for p in BACKWARD_ORDER:  # so that the first mismatch is where the bug is
            advice = ("Bias gradients sum dY over batch and time." if p.startswith("b") else
                      "dW = x^T dY summed over batch and time (reshape to (B*T, C) first).")
            if not p.endswith("_o"):
                advice += (" If dW_o is right, check the gradient flowing into the merged "
                           "heads: d(merged) = dout @ W_o^T.")
            _compare(impl, case, name, p, dparams[p], advice)


def _right_gradients(impl) -> list[str]:
    """The gradients (x_q, x_kv, parameter names) the student gets right on the cross case;
    db_k, which is 0 for every input (softmax ignores a shift of a row's scores), does not
    count on its own."""
    case = _mha_case("cross")
    try:
        grads = _backward(impl, case)
    except expect.CheckFailed:
        return []
    right = [w for w in ("x_q", "x_kv", *PARAM_NAMES) if matches(_pick(grads, w),
                                                              _truth(case, w))]
    return right if set(right) - {"b_k"} else []


@check("1.8")
def mha_backward_float32(impl):
    """float32 in, float32 gradients out"""
    right = _right_gradients(impl)
    if not right:
        skipped_until("mha_backward_dx_q, _dx_kv or _dparams")
    case = _mha_case("cross")
    x_q, x_kv = case["x_q"].astype(np.float32), case["x_kv"].astype(np.float32)
    params = {k: v.astype(np.float32) for k, v in case["params"].items()}
    _, cache = expect.pair(impl.multi_head_attention(x_q, x_kv, params, case["n_heads"]),
                           "multi_head_attention")
    grads = impl.multi_head_attention_backward(case["dout"].astype(np.float32), cache)
    if not (isinstance(grads, tuple) and len(grads) == 3 and isinstance(grads[2], dict)):
        expect.fail("multi_head_attention_backward should return (dx_q, dx_kv, dparams).")
    for w in ("x_q", "x_kv", *PARAM_NAMES):  # every gradient keeps the dtype
        label = "dx_q" if w == "x_q" else "dx_kv" if w == "x_kv" else f"d{w}"
        if w not in right:  # only its dtype: its values fail in another check
            expect.array(_pick(grads, w), f"{label} of float32 inputs", dtype=np.float32,
                         finite=False)
            continue
        want = _truth(case, w)
        got = expect.array(_pick(grads, w), f"{label} of float32 inputs", shape=want.shape,
                           dtype=np.float32)
        expect.close(got, want, f"{label} of float32 inputs", **expect.F32)


@check("1.8")
def mha_backward_self_attention(impl):
    """for self-attention (x_kv is x_q), dx_q + dx_kv is the gradient of x"""
    right = _right_gradients(impl)
    if not {"x_q", "x_kv"} <= set(right):
        skipped_until("mha_backward_dx_q and mha_backward_dx_kv", "pass")
    case = _mha_case("causal_self")
    x = case["x_q"]
    _, cache = _mha(impl, case, x_q=x, x_kv=x)
    grads = impl.multi_head_attention_backward(case["dout"], cache)
    if not (isinstance(grads, tuple) and len(grads) == 3):
        expect.fail("multi_head_attention_backward should return (dx_q, dx_kv, dparams).")
    dx_q, dx_kv, _ = grads
    expect.array(dx_q, "dx_q (self-attention)", shape=x.shape)
    expect.array(dx_kv, "dx_kv (self-attention)", shape=x.shape)
    truth = _truth({**case, "x_kv": x}, "x_q") + _truth({**case, "x_kv": x}, "x_kv")
    if matches(dx_q, truth) and matches(dx_kv, truth):
        expect.fail("for self-attention both dx_q and dx_kv came back as the full gradient "
                    "of x (dx_q + dx_kv): return them separately, the caller adds them.")
    expect.close(dx_q + dx_kv, truth, "dx_q + dx_kv for self-attention",
                 hint="Both projections of the same x contribute; return them separately and "
                      "let the caller add them.", **expect.GRAD)
