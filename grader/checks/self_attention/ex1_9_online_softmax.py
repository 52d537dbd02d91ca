"""Checks of exercise 1.9: Online-softmax (Flash) attention."""

from __future__ import annotations

import numpy as np

from ... import expect
from ...sandbox import instrumented_call
from .. import check
from .common import _case, _no_warnings, attention_math, skipped_until


def _online(impl, case, block_size, q=None, mask="case", causal=False):
    """The student's output; every argument explicit (the defaults have their own check)."""
    q = case["q"] if q is None else q
    mask = case.get("mask") if isinstance(mask, str) else mask
    return expect.call_pure(impl.online_softmax_attention, "online_softmax_attention",
                            q, case["k"], case["v"], mask=mask, block_size=block_size,
                            causal=causal)


def _right(out, expected) -> bool:
    return (isinstance(out, np.ndarray) and out.shape == expected.shape
            and np.allclose(out, expected, **expect.F64))


def _block_hint(impl, case, block_size) -> str:
    """Why a block size fails, confirmed by re-running: the last, shorter block skipped (the
    output is attention over the keys of the full blocks only), or blocks combined wrongly
    (one block holding every key comes out right); else advice."""
    t_k = case["k"].shape[-2]
    full = t_k - t_k % block_size
    if 0 < full < t_k:
        mask = case.get("mask")
        mask = None if mask is None else np.broadcast_to(mask, case["out"].shape[:-1] + (t_k,))
        trimmed = attention_math(case["q"], case["k"][..., :full, :], case["v"][..., :full, :],
                                 None if mask is None else mask[..., :full])
        if _right(_online(impl, case, block_size), trimmed):
            keys = f"key {full} is" if full == t_k - 1 else f"keys {full}..{t_k - 1} are"
            return expect.cause(f"the last, shorter block is skipped: with T_k={t_k} and "
                                f"block_size={block_size}, {keys} never visited")
    rescale = ("When the running max m grows, rescale both the running sum l and the "
               "accumulator by exp(m_old - m_new).")
    if _right(_online(impl, case, t_k), case["out"]):
        return f"With a single block (block_size={t_k}) your output is right. " + rescale
    return rescale


@check("1.9", weight=3)
def online_equals_attention(impl):
    """equals scaled_dot_product_attention for every block size, with and without masks"""
    for name in ("plain", "causal", "padding", "heads"):
        case = _case(name)
        for block_size in (1, 2, 3, 64):
            out = _online(impl, case, block_size)
            label = f"online_softmax_attention ({name}, block_size={block_size})"
            expect.array(out, label, shape=case["out"].shape, dtype=np.float64)
            if not _right(out, case["out"]):
                expect.close(out, case["out"], label,
                             hint=_block_hint(impl, case, block_size))
    plain = _case("plain")
    q, k, v = (plain[n].astype(np.float32) for n in "qkv")
    out32 = impl.online_softmax_attention(q, k, v, mask=None, block_size=2, causal=False)
    expect.array(out32, "online attention of float32 inputs", shape=plain["out"].shape,
                 dtype=np.float32)
    expect.close(out32, plain["out"], "online attention of float32 inputs", **expect.F32)


@check("1.9", weight=2)
def online_stable_and_masked(impl):
    """no NaN or warning for a fully masked row or for large logits"""
    case = _case("fully_masked")
    out, info = instrumented_call(impl.online_softmax_attention, case["q"], case["k"],
                                  case["v"], mask=case["mask"], block_size=2, causal=False)
    expect.array(out, "online attention with a fully masked row", shape=case["out"].shape)
    _no_warnings(info, "online_softmax_attention")
    expect.close(out, case["out"], "online attention with a fully masked row",
                 hint="Start the running max at -inf and guard exp(-inf - (-inf)); a row that "
                      "never sees an allowed key must end as zeros.")
    big = _case("large")
    out, info = instrumented_call(impl.online_softmax_attention, big["q"], big["k"], big["v"],
                                  mask=None, block_size=2, causal=False)
    expect.array(out, "online attention with large logits", shape=big["out"].shape)
    _no_warnings(info, "online_softmax_attention")
    expect.close(out, big["out"], "online attention with large logits",
                 hint="Subtract the running max inside each block before exp.")


@check("1.9", weight=2, hidden=True)
def online_memory(impl):
    """never materialises the T_q × T_k score matrix (peak memory far below it)"""
    plain = _case("plain")
    if not _right(_online(impl, plain, 2), plain["out"]):
        skipped_until("online_equals_attention")
    rng = np.random.default_rng(9)
    t, d = 2048, 8
    q, k, v = (rng.standard_normal((1, t, d)) for _ in range(3))
    out, info = instrumented_call(impl.online_softmax_attention, q, k, v, mask=None,
                                  block_size=32, causal=False)
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


@check("1.9")
def online_defaults(impl):
    """called with q, k, v only: no mask, not causal, the default block size"""
    plain = _case("plain")
    if not _right(_online(impl, plain, 64), plain["out"]):
        skipped_until("online_equals_attention")
    out = expect.call_pure(impl.online_softmax_attention, "online_softmax_attention",
                           plain["q"], plain["k"], plain["v"])
    if _right(out, plain["out"]):
        return
    explicit = {"mask": None, "block_size": 64, "causal": False}
    for name, value in explicit.items():  # which one default, passed explicitly, fixes it
        fixed = impl.online_softmax_attention(plain["q"], plain["k"], plain["v"],
                                              **{name: value})
        if _right(fixed, plain["out"]):
            expect.fail(f"online_softmax_attention(q, k, v) is wrong, but right with "
                        f"{name}={value!r} passed explicitly: the default of `{name}` must be "
                        f"{value!r}.")
    expect.array(out, "online_softmax_attention(q, k, v)", shape=plain["out"].shape)
    expect.close(out, plain["out"], "online_softmax_attention(q, k, v)",
                 hint="Called without options it must equal attention with no mask.")


@check("1.9")
def online_causal(impl):
    """causal=True applies the bottom-right causal mask, ANDed with `mask`"""
    plain = _case("plain")
    if not all(_right(_online(impl, plain, b), plain["out"]) for b in (1, 3, 64)):
        skipped_until("online_equals_attention")
    causal, padded = _case("causal"), _case("padding")
    t_q, t_k = padded["q"].shape[-2], padded["k"].shape[-2]
    both = padded["mask"] & np.tri(t_q, t_k, t_k - t_q, dtype=bool)
    runs = [(causal, None, causal["out"], "no mask"),
            (padded, padded["mask"], attention_math(padded["q"], padded["k"], padded["v"],
                                                    both), "a padding mask")]
    for case, mask, want, what in runs:
        t_q, t_k = case["q"].shape[-2], case["k"].shape[-2]
        for block_size in (1, 3, 64):
            out = _online(impl, case, block_size, mask=mask, causal=True)
            label = (f"online_softmax_attention(causal=True, {what}, T_q={t_q}, T_k={t_k}, "
                     f"block_size={block_size})")
            expect.array(out, label, shape=want.shape)
            if _right(out, want):
                continue
            full = None if mask is None else np.broadcast_to(mask, want.shape[:-1] + (t_k,))
            slips = {
                "causal=True is ignored": full,
                "the causal mask is top-left aligned; it must be bottom-right aligned (query "
                "i sees keys j <= i + T_k - T_q)":
                    np.tri(t_q, t_k, dtype=bool) & (True if full is None else full),
                "causal=True replaces `mask` instead of being ANDed with it":
                    np.tri(t_q, t_k, t_k - t_q, dtype=bool),
            }
            hint = "Keys j > i + (T_k - T_q) of query i are masked, block by block."
            for cause, slip_mask in slips.items():
                if _right(out, attention_math(case["q"], case["k"], case["v"], slip_mask)):
                    hint = expect.cause(cause)
                    break
            expect.close(out, want, label, hint=hint)


@check("1.9")
def online_rejects_bad_inputs(impl):
    """block_size < 1 or misfit shapes raise ValueError; a float block_size or mask TypeError"""
    plain = _case("plain")
    if not _right(_online(impl, plain, 64), plain["out"]):
        skipped_until("online_equals_attention")
    q, k, v = plain["q"], plain["k"], plain["v"]
    fn, name = impl.online_softmax_attention, "online_softmax_attention"
    expect.raises(fn, ValueError, f"{name}(..., block_size=0)", q, k, v, block_size=0)
    expect.raises(fn, TypeError, f"{name}(..., block_size=2.0)", q, k, v, block_size=2.0)
    expect.raises(fn, ValueError, f"{name} with q {q.shape} and k {k[:1].shape}, v "
                  f"{v[:1].shape} (leading dims differ)", q, k[:1], v[:1])
    expect.raises(fn, TypeError, f"{name} with a float mask", q, k, v,
                  mask=np.ones((q.shape[-2], k.shape[-2])))
