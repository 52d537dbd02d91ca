"""Checks of exercise 1.9: Online-softmax (Flash) attention."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...sandbox import instrumented_call
from .. import check
from .common import _case, _no_warnings


def _online(impl, case, block_size, q=None):
    q = case["q"] if q is None else q
    return expect.call_pure(impl.online_softmax_attention, "online_softmax_attention",
                            q, case["k"], case["v"], mask=case.get("mask"),
                            block_size=block_size)


@check("1.9", weight=3)
def online_equals_attention(impl):
    """equals scaled_dot_product_attention for every block size, with and without masks"""
    for name in ("plain", "causal", "padding", "heads"):
        case = _case(name)
        t_k = case["k"].shape[-2]
        for block_size in (1, 2, 3, 64):
            out = _online(impl, case, block_size)
            label = f"online_softmax_attention ({name}, block_size={block_size})"
            expect.array(out, label, shape=case["out"].shape, dtype=np.float64)
            hint = ("When the running max m grows, rescale both the running sum l and the "
                    "accumulator by exp(m_old - m_new).")
            if t_k % block_size:
                hint = (f"T_k={t_k} is not a multiple of {block_size}: is the last, shorter "
                        "block processed? " + hint)
            expect.close(out, case["out"], label, hint=hint)
    plain = _case("plain")
    q, k, v = (plain[n].astype(np.float32) for n in "qkv")
    out32 = impl.online_softmax_attention(q, k, v, block_size=2)
    expect.array(out32, "online attention of float32 inputs", shape=plain["out"].shape,
                 dtype=np.float32)
    expect.close(out32, plain["out"], "online attention of float32 inputs", **expect.F32)


@check("1.9", weight=2)
def online_stable_and_masked(impl):
    """no NaN or warning for a fully masked row or for large logits"""
    case = _case("fully_masked")
    out, info = instrumented_call(impl.online_softmax_attention, case["q"], case["k"],
                                  case["v"], mask=case["mask"], block_size=2)
    expect.array(out, "online attention with a fully masked row", shape=case["out"].shape)
    _no_warnings(info, "online_softmax_attention")
    expect.close(out, case["out"], "online attention with a fully masked row",
                 hint="Start the running max at -inf and guard exp(-inf - (-inf)); a row that "
                      "never sees an allowed key must end as zeros.")
    big = _case("large")
    out, info = instrumented_call(impl.online_softmax_attention, big["q"], big["k"], big["v"],
                                  block_size=2)
    expect.array(out, "online attention with large logits", shape=big["out"].shape)
    _no_warnings(info, "online_softmax_attention")
    expect.close(out, big["out"], "online attention with large logits",
                 hint="Subtract the running max inside each block before exp.")


@check("1.9", weight=2, hidden=True)
def online_memory(impl):
    """never materialises the T_q × T_k score matrix (peak memory far below it)"""
    plain = _case("plain")
    expect.require_correct(_online(impl, plain, 2), plain["out"], "online_softmax_attention", "1.9")
    rng = np.random.default_rng(9)
    t, d = 2048, 8
    q, k, v = (rng.standard_normal((1, t, d)) for _ in range(3))
    out, info = instrumented_call(impl.online_softmax_attention, q, k, v, block_size=32)
    expect.array(out, f"online attention on T={t}", shape=(1, t, d))
    full = t * t * 8
    if info.peak_bytes > full // 2:
        expect.fail(f"online_softmax_attention with T={t} and block_size=32 allocated "
                    f"{info.peak_bytes / 2**20:.1f} MiB at peak; the full score matrix is "
                    f"{full / 2**20:.0f} MiB and a block of scores {t * 32 * 8 / 2**10:.0f} KiB. "
                    "Loop over key blocks and keep only running statistics (m, l, acc).")
    sums = np.abs(out).max()
    if not np.isfinite(sums):
        expect.fail(f"online attention on T={t} gave non-finite values.")
