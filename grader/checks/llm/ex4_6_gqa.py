"""Checks of exercise 4.6: grouped-query attention and the KV cache's size.

The expected attention is computed here, head by head, from its definition in float64
(query head h uses kv head h // n_rep); the outputs of typical wrong formulas (tiled heads,
another scale, the mask ignored or inverted) are computed the same way, so a message can
name the mistake. Cache sizes are worked by hand in the comments.
"""

from __future__ import annotations

import math

import numpy as np

from ... import expect
from .. import check
from .common import call_unchanged

B, H, T_Q, T_K, D = 2, 6, 3, 4, 5  # distinct sizes; H = 6 allows H_kv = 1, 2, 3, 6


DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}


def _inputs(h_kv: int, seed: int = 46):
    rng = np.random.default_rng(seed + h_kv)
    q = rng.standard_normal((B, H, T_Q, D))
    k = rng.standard_normal((B, h_kv, T_K, D))
    v = rng.standard_normal((B, h_kv, T_K, D))
    return q, k, v


def _attention(q, k, v, mask=None, kv_head=None, scale=None):
    """Per query head h: softmax(q_h k_g^T * scale, masked) v_g with g = kv_head(h); float64.

    The defaults are the right answer: g = h // n_rep and scale = 1 / sqrt(D)."""
    n_rep = q.shape[1] // k.shape[1]
    kv_head = kv_head or (lambda h: h // n_rep)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    out = np.zeros(q.shape)
    full = np.ones((q.shape[0], q.shape[1], q.shape[2], k.shape[2]), dtype=bool)
    allowed = full if mask is None else np.broadcast_to(mask, full.shape)
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            g = kv_head(h)
            s = q[b, h] @ k[b, g].T * scale
            s = np.where(allowed[b, h], s, -np.inf)
            for i in range(s.shape[0]):
                if allowed[b, h, i].any():
                    w = np.exp(s[i] - s[i].max())
                    out[b, h, i] = (w / w.sum()) @ v[b, g]
    return out


def _same(actual, expected) -> bool:
    return (isinstance(actual, np.ndarray) and actual.shape == expected.shape
            and bool(np.allclose(actual, expected, **expect.F64)))


def _gqa(impl, q, k, v, mask=None, what="grouped_query_attention"):
    out = expect.call_pure(impl.grouped_query_attention, "grouped_query_attention", q, k, v,
                           mask)
    return expect.array(out, what, shape=q.shape, dtype=q.dtype)


@check("4.6")
def repeat_kv_repeats_each_head(impl):
    """repeat_kv: output head h is kv head h // n_rep (adjacent copies, as HF), not a tile"""
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)  # (B, H_kv, T, D)
    for n_rep in (2, 3):
        out = expect.call_pure(impl.repeat_kv, "repeat_kv", x, n_rep)
        what = f"repeat_kv(x of shape {x.shape}, n_rep={n_rep})"
        expect.array(out, what, shape=(2, 3 * n_rep, 4, 5), dtype=np.float64)
        want = np.stack([x[:, h // n_rep] for h in range(3 * n_rep)], axis=1)
        if _same(out, np.tile(x, (1, n_rep, 1, 1))):
            expect.fail(f"{what} tiles the heads (0, 1, 2, 0, 1, 2, ...): the copies of one kv "
                        "head must be adjacent (0, 0, 1, 1, 2, 2 for n_rep = 2), as HF's "
                        "repeat_kv and np.repeat(x, n_rep, axis=1) order them, so that query "
                        "heads g*n_rep .. g*n_rep + n_rep - 1 share kv head g. "
                        + expect.cause("the kv heads are tiled (np.tile), not repeated in "
                                       "place"))
        expect.close(out, want, what, hint="Output head h must be x[:, h // n_rep].")
    out = expect.call_pure(impl.repeat_kv, "repeat_kv", x, 1)
    expect.close(out, x, "repeat_kv(x, n_rep=1)", hint="n_rep = 1 changes nothing.")
    out32 = impl.repeat_kv(x.astype(np.float32), 2)
    expect.array(out32, "repeat_kv of float32 keys", shape=(2, 6, 4, 5), dtype=np.float32)


@check("4.6", weight=2)
def gqa_matches_attention_per_group(impl):
    """GQA, MQA (H_kv = 1) and MHA (H_kv = H): each query head attends with its group's kv head"""
    for h_kv, name in ((2, "GQA"), (3, "GQA"), (1, "MQA"), (H, "MHA")):
        q, k, v = _inputs(h_kv)
        what = f"grouped_query_attention with H = {H}, H_kv = {h_kv} ({name})"
        out = _gqa(impl, q, k, v, what=what)
        want = _attention(q, k, v)
        if _same(out, want):
            continue
        if h_kv not in (1, H) and _same(out, _attention(q, k, v, kv_head=lambda h, n=h_kv: h % n)):
            expect.fail(f"{what}: query head h used kv head h % H_kv, the order of np.tile. "
                        "Heads g*n_rep .. g*n_rep + n_rep - 1 share kv head g (h // n_rep): "
                        "repeat each kv head n_rep times in place, as HF's repeat_kv. "
                        + expect.cause("the kv heads are tiled (query head h used kv head "
                                       "h % H_kv)"))
        for scale, wrong in ((1.0, "not scaled"), (1 / D, "scaled by 1 / D"),
                             (1 / math.sqrt(D * H // h_kv), "scaled by 1 / sqrt(D * n_rep)")):
            if _same(out, _attention(q, k, v, scale=scale)):
                expect.fail(f"{what}: the output is the attention with scores {wrong}; "
                            "scale them by 1 / sqrt(D), D the head width (the last axis of q). "
                            + expect.cause(f"the scores were {wrong}"))
        expect.close(out, want, what, hint="out[:, h] = softmax(q_h k_g^T / sqrt(D)) v_g with "
                     "g = h // (H / H_kv).")
    q32, k32, v32 = (a.astype(np.float32) for a in _inputs(2))
    _gqa(impl, q32, k32, v32, what="grouped_query_attention of float32 inputs")
    q, k, v = _inputs(2)
    expect.raises(impl.grouped_query_attention, ValueError,
                  "grouped_query_attention with H = 6 query heads and H_kv = 4 kv heads",
                  q, np.zeros((B, 4, T_K, D)), np.zeros((B, 4, T_K, D)))


@check("4.6")
def gqa_applies_the_mask(impl):
    """causal and padding masks (True = may attend); a fully masked query gives zeros"""
    q, k, v = _inputs(2)
    i, j = np.arange(T_Q)[:, None], np.arange(T_K)[None, :]
    causal = j <= i + (T_K - T_Q)  # bottom-right aligned: the queries are the last T_q
    padding = (np.arange(T_K)[None, :] < np.array([4, 2])[:, None])[:, None, None, :]
    holes = np.ones((T_Q, T_K), dtype=bool)
    holes[1] = False  # query 1 may attend to nothing
    for mask, name in ((causal, "causal_mask(3, 4)"), (padding, "a padding mask (B, 1, 1, T_k)"),
                       (causal & padding, "causal & padding"), (holes, "a fully masked row")):
        what = f"grouped_query_attention with {name} (H = 6, H_kv = 2)"
        out = _gqa(impl, q, k, v, mask, what)
        want = _attention(q, k, v, mask)
        if _same(out, _attention(q, k, v)):
            expect.fail(f"{what} is the unmasked attention. Pass the mask on to the scores "
                        "(masked scores -> -inf before the softmax). "
                        + expect.cause("the mask was ignored"))
        if mask is not holes and _same(out, _attention(q, k, v, ~np.broadcast_to(
                mask, (B, H, T_Q, T_K)))):
            expect.fail(f"{what} attends exactly where it should not: True means *may attend* "
                        "(Module 1's convention). "
                        + expect.cause("the mask is inverted (True must mean may attend)"))
        expect.close(out, want, what, hint="Masked (query, key) pairs get no weight; a query "
                     "with every key masked gets a zero output (no NaN).")


@check("4.6", weight=2)
def kv_cache_bytes_worked_numbers(impl):
    """2 (K and V) * n_layer * batch * n_kv_heads * seq_len * head_dim * itemsize: GPT-2, Llama"""
    tiny = {"n_layer": 3, "n_head": 6, "n_kv_heads": 2, "n_embd": 30}  # head_dim = 5

    def expect_bytes(config, seq_len, batch, dtype, want, name):
        got = call_unchanged(impl.kv_cache_bytes, "kv_cache_bytes", config, seq_len, batch,
                             dtype)
        what = f"kv_cache_bytes({name}, seq_len={seq_len}, batch={batch}, {dtype!r})"
        if not isinstance(got, (int, np.integer)):
            expect.fail(f"{what} returned {got!r} ({type(got).__name__}); a number of bytes is "
                        "an int.")
        if got == want:
            return
        n_head, n_kv = config["n_head"], config.get("n_kv_heads") or config["n_head"]
        # each slip changes the result by a known factor: the ratio is the probe
        hints = [(want / 2, "the factor 2 is missing",
                  "every layer caches a key AND a value vector per kv head and token"),
                 (want * n_head / n_kv, "n_head heads were cached (a full multi-head cache)",
                  "with GQA only n_kv_heads heads of width head_dim = n_embd / n_head are "
                  "cached"),
                 (want * n_head, "head_dim is n_embd / n_head, not n_embd", ""),
                 (want / DTYPE_BYTES[dtype], "that counts elements, not bytes",
                  "multiply by the dtype's size (dtype_itemsize)"),
                 (want / batch if batch else -1, "the batch is missing",
                  "every sequence has its own cache")]
        found = next(((c, h) for value, c, h in hints if got == value), None)
        if found:
            cause, why = found
            expect.fail(f"{what} = {got}, expected {want}" + (f": {why}. " if why else ". ")
                        + expect.cause(cause))
        expect.fail(f"{what} = {got}, expected {want}.")

    sizes = {dtype: impl.kv_cache_bytes(tiny, 7, 3, dtype) for dtype in ("float32", "float16")}
    if sizes["float32"] == sizes["float16"]:
        expect.fail(f"kv_cache_bytes gives the same size ({sizes['float32']!r}) for float32 and "
                    "float16: the dtype's size (4 and 2 bytes) multiplies the count of cached "
                    "numbers (use dtype_itemsize(dtype)). "
                    + expect.cause("the dtype is ignored"))
    # tiny: 2 * 3 layers * 3 batch * 2 kv heads * 7 tokens * 5 * 4 bytes = 5040
    expect_bytes(tiny, 7, 3, "float32", 5040, "n_layer=3, n_head=6, n_kv_heads=2, n_embd=30")
    expect_bytes(tiny, 7, 3, "float16", 2520, "the same, in float16")
    expect_bytes(tiny, 7, 3, "int8", 1260, "the same, in int8")
    # GPT-2 small (MHA): 2 * 12 * 12 heads * 64 * 4 bytes = 73,728 bytes per token, 72 MiB
    # for 1024 tokens in float32 (n_kv_heads missing, then None: both mean n_head).
    gpt2 = {"n_layer": 12, "n_head": 12, "n_embd": 768}
    expect_bytes(gpt2, 1024, 1, "float32", 75_497_472, "GPT-2 small")
    expect_bytes({**gpt2, "n_kv_heads": None}, 1024, 3, "float16", 113_246_208,
                 "GPT-2 small with n_kv_heads=None")
    config = impl.GPTConfig()  # the course's GPTConfig: GPT-2 small, no n_kv_heads
    got = impl.kv_cache_bytes(config, 1024, 1, "float32")
    if got != 75_497_472:
        expect.fail(f"kv_cache_bytes(GPTConfig(), 1024, 1, 'float32') = {got!r}, expected "
                    "75497472: read a GPTConfig's sizes as attributes (config_value does), "
                    "with n_kv_heads = n_head.")
    # Llama-2-70B-like: 80 layers, 64 query heads, 8 kv heads of 128 (n_embd = 8192), bf16:
    # 2 * 80 * 8 * 128 * 2 = 327,680 bytes per token; 4096 tokens -> 1.25 GiB (MHA: 10 GiB).
    llama = {"n_layer": 80, "n_head": 64, "n_kv_heads": 8, "n_embd": 8192}
    expect_bytes(llama, 4096, 1, "bfloat16", 1_342_177_280, "Llama-2-70B-like GQA")
    expect_bytes(llama, 0, 4, "bfloat16", 0, "Llama-2-70B-like GQA, empty cache")
    expect.raises(impl.kv_cache_bytes, ValueError, "kv_cache_bytes with n_head=6, n_kv_heads=4",
                  {**tiny, "n_kv_heads": 4}, 7, 3, "float32")


def _skipped_until(check_name: str, what: str) -> None:
    expect.fail(f"4.6: {what}: skipped until {check_name} passes (this check only compares "
                "against a right answer).")


@check("4.6")
def repeat_kv_refuses_bad_input(impl):
    """repeat_kv: ValueError for an x that is not 4-D or an n_rep that is not an int >= 1"""
    x = np.zeros((2, 3, 4, 5))
    # the given code raises these errors: points only once the function itself runs (a stub
    # raises NotImplementedError here)
    impl.repeat_kv(x, 2)
    for args, what in (((np.zeros((3, 4, 5)), 2), "x of shape (3, 4, 5), not 4-D"),
                       ((x, 0), "n_rep=0"), ((x, 2.0), "n_rep=2.0, not an int")):
        expect.raises(impl.repeat_kv, ValueError, f"4.6: repeat_kv with {what}", *args)


@check("4.6")
def gqa_default_mask_is_none(impl):
    """grouped_query_attention(q, k, v) without a mask attends to every key (mask=None)"""
    q, k, v = _inputs(3)
    want = _attention(q, k, v)
    explicit = impl.grouped_query_attention(q, k, v, None)
    if not _same(explicit, want):
        _skipped_until("gqa_matches_attention_per_group", "the default mask")
    what = "grouped_query_attention(q, k, v), called without mask"
    out = expect.call_pure(impl.grouped_query_attention, "grouped_query_attention", q, k, v)
    expect.array(out, what, shape=q.shape, dtype=q.dtype)
    if _same(out, want):
        return
    causal = np.arange(T_K)[None, :] <= np.arange(T_Q)[:, None] + (T_K - T_Q)
    if _same(out, _attention(q, k, v, causal)):
        expect.fail(f"4.6: {what} is causal, but mask=None passed explicitly is not. "
                    + expect.cause("the default of mask is a causal mask, not None"))
    expect.close(out, want, what, hint="Without a mask (the default, None) every query "
                 "attends to every key, as with mask=None passed explicitly.")


@check("4.6")
def kv_cache_bytes_gqa_config_object(impl):
    """an object config (GPTConfig with n_kv_heads = 2 < n_head) caches n_kv_heads heads"""
    config = impl.GPTConfig(n_layer=3, n_head=6, n_embd=30)
    config.n_kv_heads = 2  # an attribute, as a Llama-like config object has it
    # 2 * 3 layers * 3 batch * 2 kv heads * 7 tokens * head_dim 5 * 4 bytes = 5040
    as_dict = {"n_layer": 3, "n_head": 6, "n_kv_heads": 2, "n_embd": 30}
    if impl.kv_cache_bytes(as_dict, 7, 3, "float32") != 5040:
        _skipped_until("kv_cache_bytes_worked_numbers", "kv_cache_bytes of a config object")
    got = impl.kv_cache_bytes(config, 7, 3, "float32")
    what = ("kv_cache_bytes(GPTConfig(n_layer=3, n_head=6, n_embd=30) with n_kv_heads = 2, "
            "seq_len=7, batch=3, 'float32')")
    if isinstance(got, (int, np.integer)) and got == 5040:
        return
    if got == 5040 * 3:
        expect.fail(f"4.6: {what} = {got!r}, expected 5040: that is the size with all n_head = "
                    "6 heads cached, while the same sizes as a dict give 5040. " + expect.cause(
                        "the n_kv_heads of a config object is not read (read every size with "
                        "config_value(config, name), for dicts and objects alike)"))
    expect.fail(f"4.6: {what} = {got!r}, expected 5040 = 2 * n_layer * batch * n_kv_heads * "
                "seq_len * head_dim * 4 bytes. Check that every size of an object config "
                "(attributes, not keys) is read as for a dict, n_kv_heads included.")
