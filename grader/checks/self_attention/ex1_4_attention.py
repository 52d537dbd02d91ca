"""Checks of exercise 1.4: Scaled dot-product attention."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...sandbox import instrumented_call
from .. import check
from .common import _case, _no_warnings, _sdpa


def _diagnose_attention(impl, case) -> str:
    """Name the likely bug by re-running the student's own function on rescaled queries."""
    d = case["q"].shape[-1]
    probes = {
        "the 1/sqrt(d_k) scaling is missing": case["q"] / np.sqrt(d),
        "you divided by d_k instead of sqrt(d_k)": case["q"] * np.sqrt(d),
        "you multiplied by sqrt(d_k) instead of dividing": case["q"] / d,
    }
    for diagnosis, q in probes.items():
        try:
            probe, _ = _sdpa(impl, case, q=q)
        except Exception:  # noqa: BLE001 — a diagnosis is best effort
            return ""
        if isinstance(probe, np.ndarray) and probe.shape == case["out"].shape and np.allclose(
                probe, case["out"], rtol=1e-6, atol=1e-8):
            return expect.cause(diagnosis)
    return ""


def _compare_attention(impl, case, out, cache, label, hint=""):
    """Output and cache['weights'] must match the case; explain the first difference."""
    expect.array(out, label, shape=case["out"].shape)
    if not isinstance(cache, dict) or "weights" not in cache:
        expect.fail(f"{label}: the cache should be a dict with the attention weights under "
                    "cache['weights'] (shape (..., T_q, T_k)), for plotting and the backward.")
    weights = expect.array(cache["weights"], f"{label}: cache['weights']",
                           shape=case["weights"].shape)
    if "mask" in case:
        mask = np.broadcast_to(case["mask"], weights.shape)
        if np.any(np.abs(weights[~mask]) > 0):
            expect.fail(f"{label}: positions where the mask is False got weight "
                        f"{np.abs(weights[~mask]).max():.3g}; they must get exactly 0. Set "
                        "their scores to -inf before the softmax (True = may attend).")
    live = case["weights"].sum(-1) > 0.5
    sums = weights.sum(-1)
    if not np.allclose(sums[live], 1.0, atol=1e-9):
        if np.allclose(weights.sum(-2), 1.0, atol=1e-9):
            hint = " They sum to 1 over the query axis: softmax must run over the keys (axis -1)."
        elif "mask" in case:
            hint = (" Masked weights are 0 but rows no longer sum to 1: mask the scores with "
                    "-inf before the softmax instead of zeroing weights after it.")
        else:
            hint = ""
        expect.fail(f"{label}: each row of the attention weights should sum to 1 over the "
                    f"keys; got sums in [{sums.min():.4g}, {sums.max():.4g}].{hint}")
    good = np.allclose(weights, case["weights"], **expect.F64) and np.allclose(
        out, case["out"], **expect.F64)
    if not good:
        hint = _diagnose_attention(impl, case) or hint
    expect.close(weights, case["weights"], f"{label}: cache['weights']", hint=hint)
    expect.close(out, case["out"], label, hint=hint)


@check("1.4", weight=3)
def attention_values(impl):
    """softmax(q k^T / sqrt(d_k)) v with its weights in the cache"""
    case = _case("plain")
    out, cache = _sdpa(impl, case)
    expect.array(out, "attention output", shape=case["out"].shape, dtype=np.float64)
    _compare_attention(impl, case, out, cache, "attention without mask")


@check("1.4", weight=2)
def attention_masks(impl):
    """masked keys get weight 0 (causal t_q < t_k, padding); a fully masked row gives zeros"""
    for name in ("causal", "padding", "fully_masked"):
        case = _case(name)
        result, info = instrumented_call(impl.scaled_dot_product_attention, case["q"],
                                         case["k"], case["v"], mask=case["mask"])
        out, cache = expect.pair(result, "scaled_dot_product_attention")
        label = f"attention with the {name.replace('_', ' ')} mask"
        expect.array(out, label, shape=case["out"].shape)
        _no_warnings(info, "scaled_dot_product_attention")
        _compare_attention(impl, case, out, cache, label,
                           hint="A fully masked row must give zeros.")


@check("1.4")
def attention_batched_float32(impl):
    """works on (B, H, T, D) inputs, keeps float32, leaves inputs unchanged"""
    plain = _case("plain")
    out, _ = _sdpa(impl, plain)
    plain_ok = isinstance(out, np.ndarray) and np.allclose(out, plain["out"], **expect.F64)
    case = _case("heads")
    out, cache = _sdpa(impl, case)
    _compare_attention(impl, case, out, cache, "attention on (B, H, T, D) inputs",
                       hint="Your 3-D case works: use np.swapaxes(k, -1, -2), not k.T, so the "
                            "leading axes are kept." if plain_ok else "")
    q, k, v = (plain[n].astype(np.float32) for n in "qkv")
    out32, _ = expect.pair(expect.call_pure(impl.scaled_dot_product_attention,
                                            "scaled_dot_product_attention", q, k, v),
                           "scaled_dot_product_attention")
    expect.array(out32, "attention of float32 inputs", shape=plain["out"].shape,
                 dtype=np.float32)
    expect.close(out32, plain["out"], "attention of float32 inputs", **expect.F32)
