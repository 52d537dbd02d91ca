"""Checks of exercise 1.7: Multi-head attention."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import _mha, _mha_case, mha_math, skipped_until

MHA_CASES = ("cross", "padded", "causal_self")


def _slip(case, out) -> str:
    """A usual slip that gives `out`, confirmed against the grader's own forward with that
    slip; "" when none fits."""
    params, c = case["params"], case["x_q"].shape[-1]
    x_kv = case.get("x_kv", case["x_q"])
    no_bias = {**params, "b_o": np.zeros(c)}
    alternatives = {
        "the scores are scaled by 1/sqrt(C), the model width, instead of 1/sqrt(C / H), the "
        "head size": dict(scale=1 / np.sqrt(c)),
        "the output projection (W_o, b_o) is missing": dict(
            params={**no_bias, "W_o": np.eye(c)}),
        "the output bias b_o is missing": dict(params=no_bias),
    }
    for cause, change in alternatives.items():
        args = {"params": params, "scale": None, **change}
        want = mha_math(case["x_q"], x_kv, x_kv, args["params"], case["n_heads"],
                        case["mask"], args["scale"])
        if isinstance(out, np.ndarray) and out.shape == want.shape and np.allclose(
                out, want, **expect.F64):
            return expect.cause(cause)
    return ""


@check("1.7", weight=3)
def mha_values(impl):
    """multi-head attention matches the expected outputs and per-head weights"""
    for name in MHA_CASES:
        case = _mha_case(name)
        label = f"multi_head_attention ({name}, {case['n_heads']} heads)"
        if case["mask"] is None:  # called without `mask`: the default
            x_q, x_kv = case["x_q"], case["x_kv"]
            out, cache = expect.pair(expect.call_pure(
                impl.multi_head_attention, "multi_head_attention", x_q, x_kv, case["params"],
                case["n_heads"]), "multi_head_attention")
            if not _right(out, case) and _right(_mha(impl, case)[0], case):
                expect.fail(f"{label}: called without a mask, multi_head_attention differs "
                            "from the same call with mask=None, which is right: the default "
                            "is mask=None (every query attends to every key).")
        else:
            out, cache = _mha(impl, case)
        expect.array(out, label, shape=case["out"].shape, dtype=np.float64)
        if not isinstance(cache, dict) or "weights" not in cache:
            expect.fail(f"{label}: cache['weights'] should hold the (B, H, T_q, T_k) weights.")
        expect.array(cache["weights"], f"{label}: cache['weights']",
                     shape=case["weights"].shape)
        cause = "" if _right(out, case) else _slip(case, out)
        expect.close(cache["weights"], case["weights"], f"{label}: per-head weights",
                     hint=cause or "Project with x @ W + b, split heads as in 1.6, and scale "
                                   "by 1/sqrt(C / H), the head size.")
        expect.close(out, case["out"], label,
                     hint=cause or "After merging the heads, apply the output projection "
                                   "W_o, b_o.")


def _right(out, case) -> bool:
    return (isinstance(out, np.ndarray) and out.shape == case["out"].shape
            and np.allclose(out, case["out"], **expect.F64))


@check("1.7", hidden=True)
def mha_causal_invariance(impl):
    """with a causal mask, changing a later token never changes an earlier output"""
    case = _mha_case("causal_self")
    x = case["x_q"]
    out, _ = _mha(impl, case, x_q=x, x_kv=x)
    expect.array(out, "multi_head_attention output", shape=case["out"].shape)
    changed = x.copy()
    changed[:, -1, :] += 5.0
    out2, _ = _mha(impl, case, x_q=changed, x_kv=changed)
    expect.array(out2, "multi_head_attention output", shape=out.shape)
    leak = np.abs(out2[:, :-1] - out[:, :-1]).max()
    if leak > 1e-12:
        expect.fail(f"changing the last token moved earlier outputs by {leak:.3g}: the causal "
                    "mask leaks the future. Broadcast the (T, T) mask over batch and heads.")
    expect.require_correct(out, case["out"], "multi_head_attention with a causal mask", "1.7")


@check("1.7")
def mha_float32_and_inputs(impl):
    """float32 in, float32 out; params and inputs are not modified"""
    case = _mha_case("cross")
    x_q, x_kv = case["x_q"].astype(np.float32), case["x_kv"].astype(np.float32)
    params = {k: v.astype(np.float32) for k, v in case["params"].items()}
    before = {k: v.copy() for k, v in params.items()}
    out, _ = expect.pair(impl.multi_head_attention(x_q, x_kv, params, case["n_heads"]),
                         "multi_head_attention")
    expect.unchanged(before, params, "multi_head_attention (params)")
    expect.array(out, "multi_head_attention(float32)", shape=case["out"].shape,
                 dtype=np.float32)
    expect.close(out, case["out"], "multi_head_attention(float32)", **expect.F32)


@check("1.7")
def mha_rejects_bad_inputs(impl):
    """misfit shapes, a missing parameter or C % n_heads != 0 raise ValueError"""
    case = _mha_case("cross")
    if not _right(_mha(impl, case)[0], case):
        skipped_until("mha_values")
    x_q, x_kv, params, h = case["x_q"], case["x_kv"], case["params"], case["n_heads"]
    fn, name = impl.multi_head_attention, "multi_head_attention"
    c = x_q.shape[-1]
    expect.raises(fn, ValueError, f"{name} with n_heads=5 and C={c}", x_q, x_kv, params, 5)
    expect.raises(fn, ValueError, f"{name} with x_q {x_q.shape} and x_kv {x_kv[..., :6].shape}",
                  x_q, x_kv[..., :6], params, h)
    expect.raises(fn, ValueError, f"{name} with params missing 'b_o'", x_q, x_kv,
                  {p: a for p, a in params.items() if p != "b_o"}, h)
    expect.raises(fn, ValueError, f"{name} with x_q of shape {x_q[0].shape} (not (B, T, C))",
                  x_q[0], x_kv[0], params, h)
