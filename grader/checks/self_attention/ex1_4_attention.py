"""Checks of exercise 1.4: Scaled dot-product attention."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...sandbox import instrumented_call
from .. import check
from .common import _case, _no_warnings, _sdpa, ratio, skipped_until


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


def _run(impl, case, mask):
    """The student's (out, cache) on the case's q, k, v with another mask."""
    result = expect.call_pure(impl.scaled_dot_product_attention, "scaled_dot_product_attention",
                              case["q"], case["k"], case["v"], mask=mask)
    return expect.pair(result, "scaled_dot_product_attention")


def _mask_probe(impl, case, weights) -> str:
    """Why masked weights are off, confirmed by re-running the student's function with the
    mask inverted and with no mask; "" when neither probe explains it."""
    mask = case["mask"]
    try:
        inverted, _ = _run(impl, case, ~np.broadcast_to(mask, case["weights"].shape))
        if matches_out(inverted, case["out"]):
            return expect.cause("the mask is applied the other way round: True must mean "
                                "'may attend' (keep the scores where mask is True)")
        _, plain = _run(impl, case, None)
        unmasked = plain["weights"] if isinstance(plain, dict) else None
    except expect.CheckFailed:
        return ""
    full = np.broadcast_to(mask, weights.shape)
    if isinstance(unmasked, np.ndarray) and unmasked.shape == weights.shape and np.allclose(
            weights, np.where(full, unmasked, 0.0), **expect.F64):
        return expect.cause("the weights are zeroed after the softmax instead of masking the "
                            "scores with -inf before the softmax (rows then sum to less than 1)")
    dead = ~full.any(-1)
    if np.any(dead) and np.allclose(weights[dead], 1 / weights.shape[-1], **expect.F64):
        return expect.cause("masked scores are set to a finite value, not -inf: a fully "
                            "masked row then gets uniform weights")
    return ""


def matches_out(out, expected) -> bool:
    return (isinstance(out, np.ndarray) and out.shape == expected.shape
            and np.allclose(out, expected, **expect.F64))


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
            expect.fail(f"{label}: positions where the mask is False got weight up to "
                        f"{np.abs(weights[~mask]).max():.3g}; they must get exactly 0 (True = "
                        f"may attend). {_mask_probe(impl, case, weights)}".rstrip())
    live = case["weights"].sum(-1) > 0.5
    sums = weights.sum(-1)
    if not np.allclose(sums[live], 1.0, atol=1e-9):
        off = np.abs(sums[live] - 1.0).max()
        lo, hi = sums[live].min(), sums[live].max()
        if np.allclose(weights.sum(-2), 1.0, atol=1e-9):
            hint = " " + expect.cause("the softmax runs over the queries (axis -2); it must "
                                      "run over the keys (axis -1)")
        elif "mask" in case:
            hint = _mask_probe(impl, case, weights)
            hint = " " + hint if hint else ""
        else:
            hint = ""
        c = ratio(weights, case["weights"])
        if c is not None and not hint:
            hint = f" Every weight is exactly {c:.10g} times the expected one."
        expect.fail(f"{label}: each row of the attention weights should sum to 1 over the "
                    f"keys, but the sums range over [{lo:.10g}, {hi:.10g}] (off by up to "
                    f"{off:.3g}).{hint}")
    good = np.allclose(weights, case["weights"], **expect.F64) and np.allclose(
        out, case["out"], **expect.F64)
    if not good:
        hint = _diagnose_attention(impl, case) or hint
    expect.close(weights, case["weights"], f"{label}: cache['weights']", hint=hint)
    expect.close(out, case["out"], label, hint=hint)


@check("1.4", weight=3)
def attention_values(impl):
    """softmax(q k^T / sqrt(d_k)) v with its weights in the cache, called without a mask"""
    case = _case("plain")
    result = expect.call_pure(impl.scaled_dot_product_attention, "scaled_dot_product_attention",
                              case["q"], case["k"], case["v"])  # the default mask
    out, cache = expect.pair(result, "scaled_dot_product_attention")
    expect.array(out, "attention output", shape=case["out"].shape, dtype=np.float64)
    if not matches_out(out, case["out"]) and matches_out(_run(impl, case, None)[0],
                                                         case["out"]):
        expect.fail("scaled_dot_product_attention(q, k, v), called without a mask, differs "
                    "from the same call with mask=None, which is right: without a mask every "
                    "query attends to every key (the default is mask=None).")
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


def _flat_heads_ok(impl, case) -> bool:
    """Whether the student's function is right on the (B, H, T, D) case reshaped to 3-D."""
    flat = {n: case[n].reshape(-1, *case[n].shape[-2:]) for n in ("q", "k", "v")}
    try:
        out, _ = _run(impl, {**case, **flat}, case["mask"])
    except expect.CheckFailed:
        return False
    return matches_out(out, case["out"].reshape(-1, *case["out"].shape[-2:]))


@check("1.4")
def attention_batched_float32(impl):
    """works on (B, H, T, D) inputs, keeps float32, leaves inputs unchanged"""
    plain = _case("plain")
    case = _case("heads")
    out, cache = _sdpa(impl, case)
    right = matches_out(out, case["out"])
    hint = ("On the same inputs reshaped to (B*H, T, D) your function is right: check how it "
            "treats the leading axes (k.T reverses every axis; np.swapaxes(k, -1, -2) swaps "
            "only the last two)." if not right and _flat_heads_ok(impl, case) else "")
    _compare_attention(impl, case, out, cache, "attention on (B, H, T, D) inputs", hint=hint)
    q, k, v = (plain[n].astype(np.float32) for n in "qkv")
    out32, _ = expect.pair(expect.call_pure(impl.scaled_dot_product_attention,
                                            "scaled_dot_product_attention", q, k, v),
                           "scaled_dot_product_attention")
    expect.array(out32, "attention of float32 inputs", shape=plain["out"].shape,
                 dtype=np.float32)
    expect.close(out32, plain["out"], "attention of float32 inputs", **expect.F32)


@check("1.4")
def attention_rejects_bad_inputs(impl):
    """misfit shapes raise ValueError, a non-boolean mask TypeError"""
    plain = _case("plain")
    if not matches_out(_run(impl, plain, None)[0], plain["out"]):
        skipped_until("attention_values")
    q, k, v = plain["q"], plain["k"], plain["v"]
    fn, name = impl.scaled_dot_product_attention, "scaled_dot_product_attention"
    expect.raises(fn, ValueError, f"{name} with q {q.shape} and k {k[:1].shape}, v "
                  f"{v[:1].shape} (leading dims differ; the docstring allows no broadcasting)",
                  q, k[:1], v[:1])
    expect.raises(fn, ValueError, f"{name} with q {q.shape} and k {k[..., :3].shape} (their "
                  "D differ)", q, k[..., :3], v)
    causal = np.tri(q.shape[-2], k.shape[-2], k.shape[-2] - q.shape[-2])
    expect.raises(fn, TypeError, f"{name} with a float mask (0.0 / 1.0) instead of a boolean "
                  "one", q, k, v, mask=causal)
    expect.raises(fn, ValueError, f"{name} with a mask of shape {causal.T.shape}, which does "
                  f"not broadcast to the scores {q.shape[:-1] + k.shape[-2:-1]}", q, k, v,
                  mask=causal.T > 0)
