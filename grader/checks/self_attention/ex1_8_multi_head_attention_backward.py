"""Checks of exercise 1.8: Multi-head attention backward."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...gradcheck import check_gradient_of
from .. import check
from .common import PARAM_NAMES, _mha, _mha_case


def _mha_grads(impl, case, x_q=None, x_kv=None):
    out, cache = _mha(impl, case, x_q, x_kv)
    if not (isinstance(out, np.ndarray) and out.shape == case["out"].shape
            and np.allclose(out, case["out"], **expect.F64)):
        expect.fail("your multi_head_attention (1.7) gives wrong outputs; fix 1.7 first — its "
                    "backward is graded against a correct forward.")
    grads = impl.multi_head_attention_backward(case["dout"], cache)
    if not (isinstance(grads, tuple) and len(grads) == 3 and isinstance(grads[2], dict)):
        expect.fail("multi_head_attention_backward should return (dx_q, dx_kv, dparams) "
                    "with dparams a dict keyed like params.")
    dx_q, dx_kv, dparams = grads
    missing = sorted(set(PARAM_NAMES) - set(dparams))
    if missing:
        expect.fail(f"dparams is missing {missing}; it needs the same keys as params.")
    return dx_q, dx_kv, dparams


@check("1.8", weight=4)
def mha_backward_values(impl):
    """dx_q, dx_kv and every parameter gradient match the true gradients"""
    for name in ("cross", "padded"):
        case = _mha_case(name)
        dx_q, dx_kv, dparams = _mha_grads(impl, case)
        expect.array(dx_q, f"dx_q ({name})", shape=case["x_q"].shape)
        expect.array(dx_kv, f"dx_kv ({name})", shape=case["x_kv"].shape)
        # In backward order, so the first mismatch is where the bug is.
        into_heads = ("dW_o is right, so look at the gradient flowing into the merged heads: "
                      "d(merged) = dout @ W_o^T.")
        for p in ("W_o", "b_o", "W_v", "b_v", "W_k", "b_k", "W_q", "b_q"):
            expect.array(dparams[p], f"d{p}", shape=case["params"][p].shape)
            hint = ("Bias gradients sum dY over batch and time." if p.startswith("b") else
                    "dW = x^T dY summed over batch and time (reshape to (B*T, C) first).")
            if not p.endswith("_o"):
                hint += " " + into_heads
            expect.close(dparams[p], case["grads"][p], f"d{p} ({name})", hint=hint)
        expect.close(dx_kv, case["dx_kv"], f"dx_kv ({name})",
                     hint="dx_kv collects both paths: dk @ W_k^T + dv @ W_v^T.")
        expect.close(dx_q, case["dx_q"], f"dx_q ({name})", hint="dx_q = dq @ W_q^T.")


@check("1.8")
def mha_backward_float32(impl):
    """float32 in, float32 gradients out"""
    case = _mha_case("cross")
    x_q, x_kv = case["x_q"].astype(np.float32), case["x_kv"].astype(np.float32)
    params = {k: v.astype(np.float32) for k, v in case["params"].items()}
    _, cache = expect.pair(impl.multi_head_attention(x_q, x_kv, params, case["n_heads"]),
                           "multi_head_attention")
    grads = impl.multi_head_attention_backward(case["dout"].astype(np.float32), cache)
    if not (isinstance(grads, tuple) and len(grads) == 3 and isinstance(grads[2], dict)):
        expect.fail("multi_head_attention_backward should return (dx_q, dx_kv, dparams).")
    dx_q, dx_kv, dparams = grads
    expect.array(dx_q, "dx_q of float32 inputs", shape=x_q.shape, dtype=np.float32)
    expect.array(dx_kv, "dx_kv of float32 inputs", shape=x_kv.shape, dtype=np.float32)
    for p in PARAM_NAMES:
        expect.array(dparams.get(p), f"d{p} of float32 inputs", shape=params[p].shape,
                     dtype=np.float32)
        expect.close(dparams[p], case["grads"][p], f"d{p} of float32 inputs", **expect.F32)


@check("1.8", weight=4, hidden=True, timeout=30)
def mha_backward_finite_differences(impl):
    """every gradient agrees with finite differences of your own forward"""
    case = _mha_case("padded")
    dx_q, dx_kv, dparams = _mha_grads(impl, case)
    x_q, x_kv, params = case["x_q"], case["x_kv"], case["params"]
    args, kwargs = (x_q, x_kv, params, case["n_heads"]), {"mask": case["mask"]}
    wrt = [(dx_q, x_q, "dx_q"), (dx_kv, x_kv, "dx_kv")]
    wrt += [(dparams[p], params[p], f"d{p}") for p in ("W_q", "W_v", "b_k", "W_o", "b_o")]
    for grad, x, name in wrt:
        check_gradient_of(grad, impl.multi_head_attention, args, kwargs, x, case["dout"],
                          f"{name} (finite differences)")


@check("1.8", weight=2)
def mha_backward_self_attention(impl):
    """for self-attention (x_kv is x_q), dx_q + dx_kv is the gradient of x"""
    case = _mha_case("causal_self")
    x = case["x_q"]
    dx_q, dx_kv, _ = _mha_grads(impl, case, x_q=x, x_kv=x)
    expect.close(dx_q + dx_kv, case["dx"], "dx_q + dx_kv for self-attention",
                 hint="Both projections of the same x contribute; return them separately and "
                      "let the caller add them.")
