"""Checks of exercise 1.5: Attention backward."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import check_gradient_of
from ...sandbox import instrumented_call
from .. import check
from .common import _case, _no_warnings, _sdpa


def _require_forward(impl, case, exercise="1.4"):
    """A backward is graded against a correct forward; say so when the forward is wrong."""
    out, cache = _sdpa(impl, case)
    if not (isinstance(out, np.ndarray) and out.shape == case["out"].shape
            and np.allclose(out, case["out"], **expect.F64)):
        expect.fail(f"your scaled_dot_product_attention ({exercise}) gives wrong outputs; fix "
                    f"{exercise} first — its backward is graded against a correct forward.")
    return cache


def _sdpa_grads(impl, case):
    cache = _require_forward(impl, case)
    grads = impl.scaled_dot_product_attention_backward(case["dout"], cache)
    if not (isinstance(grads, tuple) and len(grads) == 3):
        expect.fail("scaled_dot_product_attention_backward should return (dq, dk, dv).")
    for g, n in zip(grads, "qkv"):
        expect.array(g, f"d{n}", shape=case[n].shape)
    return grads


@check("1.5", weight=4)
def attention_backward_values(impl):
    """dq, dk, dv match the true gradients, with and without masks"""
    for name in ("plain", "causal", "padding", "heads"):
        case = _case(name)
        grads = _sdpa_grads(impl, case)
        hints = {
            "q": "dq = scale * dS @ k, where dS is the softmax backward of dP = dout @ v^T.",
            "k": "dk = scale * dS^T @ q (the transpose over the last two axes).",
            "v": "dv = P^T @ dout, with P the attention weights.",
        }
        for g, n in zip(grads, "qkv"):
            expect.close(g, case[f"d{n}"], f"d{n} ({name} case)", hint=hints[n])


@check("1.5", weight=4, hidden=True)
def attention_backward_finite_differences(impl):
    """the backward agrees with finite differences of your own forward"""
    case = _case("causal")
    dq, dk, dv = _sdpa_grads(impl, case)
    q, k, v = case["q"], case["k"], case["v"]
    args, kwargs = (q, k, v), {"mask": case["mask"]}
    for grad, x, name in ((dq, q, "dq"), (dk, k, "dk"), (dv, v, "dv")):
        check_gradient_of(grad, impl.scaled_dot_product_attention, args, kwargs, x,
                          case["dout"], f"{name} (finite differences)")


@check("1.5", weight=2)
def attention_backward_masked_rows_float32(impl):
    """a fully masked row has zero gradient; float32 gradients stay float32"""
    case = _case("fully_masked")
    cache = _require_forward(impl, case)
    grads, info = instrumented_call(impl.scaled_dot_product_attention_backward, case["dout"],
                                    cache)
    _no_warnings(info, "scaled_dot_product_attention_backward")
    if not (isinstance(grads, tuple) and len(grads) == 3):
        expect.fail("scaled_dot_product_attention_backward should return (dq, dk, dv).")
    for g, n in zip(grads, "qkv"):
        expect.array(g, f"d{n} with a fully masked row", shape=case[n].shape)
        expect.close(g, case[f"d{n}"], f"d{n} with a fully masked row")
    plain = _case("plain")
    q, k, v, dout = (plain[n].astype(np.float32) for n in ("q", "k", "v", "dout"))
    _, cache = expect.pair(impl.scaled_dot_product_attention(q, k, v),
                           "scaled_dot_product_attention")
    grads32 = impl.scaled_dot_product_attention_backward(dout, cache)
    for g, n in zip(grads32, "qkv"):
        expect.array(g, f"d{n} of float32 inputs", shape=plain[n].shape, dtype=np.float32)
        expect.close(g, plain[f"d{n}"], f"d{n} of float32 inputs", **expect.F32)
