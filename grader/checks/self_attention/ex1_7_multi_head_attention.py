"""Checks of exercise 1.7: Multi-head attention."""

from __future__ import annotations

import numpy as np

from ... import expect
from .. import check
from .common import _mha, _mha_case

MHA_CASES = ("cross", "padded", "causal_self")


@check("1.7", weight=3)
def mha_values(impl):
    """multi-head attention matches the expected outputs and per-head weights"""
    for name in MHA_CASES:
        case = _mha_case(name)
        out, cache = _mha(impl, case)
        label = f"multi_head_attention ({name}, {case['n_heads']} heads)"
        expect.array(out, label, shape=case["out"].shape, dtype=np.float64)
        if not isinstance(cache, dict) or "weights" not in cache:
            expect.fail(f"{label}: cache['weights'] should hold the (B, H, T_q, T_k) weights.")
        expect.array(cache["weights"], f"{label}: cache['weights']",
                     shape=case["weights"].shape)
        expect.close(cache["weights"], case["weights"], f"{label}: per-head weights",
                     hint="Project with x @ W + b, split heads as in 1.6, and scale by "
                          "1/sqrt(C / H), the head size.")
        expect.close(out, case["out"], label,
                     hint="After merging the heads, apply the output projection W_o, b_o.")


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
