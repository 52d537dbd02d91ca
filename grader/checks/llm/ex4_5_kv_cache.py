"""Checks of exercise 4.5: the KV cache and cached generation.

The graded property: decoding with the cache gives the logits of the full forward at every
position, whatever the schedule — the whole prompt at once, then one token per step, or a
prompt prefilled in chunks (3, then 2, then 4 tokens: fewer queries than keys, where the
causal mask must be offset), for a batch of 3. The model is a tiny float64 GPT-2 with
distinct sizes (B=3, n_layer=2, H=4, D=5, C=20, V=29, block_size=11) and weights far larger
than GPT-2's 0.02 init, so that an offset position or a misplaced key moves the logits a lot.
Expected logits, buffers and greedy tokens are fixtures from the reference
(`grader/data/llm.npz`, keys `4.5/kv.*`), with the logits of known wrong decoders to name a bug.
The buffers' layout and the absence of a per-step copy are checked directly (shapes, where
the keys land, the peak memory of one decoding step against a 16,384-position cache).
The same model in float32 must decode in float32; generate's options (temperature, top_k,
top_p, rng) are compared with a replay of its documented loop that calls the student's own
sample_next_token (4.4), so a wrong sampler is 4.4's and an option lost on the way is
named by replaying without it; that generate uses the cache by default shows in its peak
memory (no (B, t, V) logits of a full forward per step).
"""

from __future__ import annotations

import numpy as np

from ... import expect, fixtures
from ...sandbox import StudentNotImplemented, instrumented_call
from .. import check

KV_CONFIG = {"vocab_size": 29, "block_size": 11, "n_layer": 2, "n_head": 4, "n_embd": 20,
             "dtype": "float64"}


B, T, MAX_LEN = 3, 9, 10  # batch, graded sequence length, the checks' cache length


N_LAYER, H, D, V = 2, 4, 5, 29


SCHEDULES = {"prefill": (9,), "decode": (3, 1, 1, 1, 1, 1, 1), "chunked": (3, 2, 4)}


BUGS = {  # fixture kv.bug.<schedule>.<name> -> (the mistake, what to do); the fixture's
    # logits of that wrong decoder are the probe
    "no_offset": ("the new tokens got the position embeddings of positions 0..T-1",
                  "They sit at positions L..L+T-1 (L = kv_cache.length), so add "
                  "wpe.weight[L:L+T]."),
    "mask_top_left": ("the causal mask is aligned top-left (as np.tril(ones(T, L+T)))",
                      "The T queries are the LAST T positions, so query i sees keys j <= L + i "
                      "(causal_mask(T, L + T) is bottom-right aligned); with T = 1 it sees "
                      "every key."),
    "no_mask": ("the T new queries attend to each other without a causal mask, a leak of the "
                "future", "With T > 1 new tokens, query i may see keys j <= L + i only."),
}


# One decoding step against a 32 MiB cache layer may allocate at most this much.  The
# reference allocates about 1.2 MiB (scores, softmax, small arrays); the worker's RSS can
# move by a few MiB more (Python arenas, lazily touched pages: 3 MiB was seen once under
# load), while a copy of one layer's keys alone is 32 MiB.
PEAK_LIMIT = 8 * 2**20


def fx() -> dict[str, np.ndarray]:
    return fixtures.by_name("llm")


def get(name: str) -> np.ndarray:
    return fx()[name].copy()


def _model(impl):
    """The tiny float64 GPT-2 of the fixtures (weights ~ 1, not 0.02): every parameter comes
    from the fixture, so the generator of the initialisation does not matter."""
    model = impl.GPT(impl.GPTConfig(**KV_CONFIG), np.random.default_rng(0))
    model.params = {str(n): get(f"kv.params.{n}") for n in fx()["kv.names"]}
    return model


def _raised(fn, *args):
    """The (type name, message) of what `fn(*args)` raised, or None."""
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 — the type is inspected by the caller
        name = getattr(exc, "type_name", type(exc).__name__)
        if name == "NotImplementedError":
            raise
        return name, str(getattr(exc, "message", exc))
    return None


def _buffers(cache, label: str, max_len: int, dtype=np.float64) -> tuple:
    """cache.k and cache.v: one preallocated array each, (n_layer, B, H_kv, max_len, D)."""
    shape = (N_LAYER, B, H, max_len, D)
    out = []
    for name in ("k", "v"):
        buf = getattr(cache, name)
        if not isinstance(buf, np.ndarray) or buf.shape != shape:
            got = (f"a {type(buf).__name__}" if not isinstance(buf, np.ndarray)
                   else f"shape {buf.shape}")
            expect.fail(f"4.5 {label}: cache.{name} should be ONE array of shape (n_layer, B, "
                        f"H_kv, max_len, D) = {shape}, preallocated in __init__ and written in "
                        f"place; got {got}. Allocate both buffers once, at full length (no "
                        "growing, no per-layer lists, no np.concatenate).")
        expect.array(buf, f"4.5 {label}: cache.{name}", dtype=dtype)
        out.append(buf)
    return tuple(out)


def _length(cache, want: int, before: int, t_new: int, label: str) -> None:
    length = cache.length
    if length == want:
        return
    if length == before + N_LAYER * t_new:
        why = ("it moved once per layer: every layer writes the SAME positions [L, L+T), so "
               "call advance(T) once per forward, after the last layer.")
    elif length == before:
        why = "it did not move: call kv_cache.advance(T) at the end of the forward."
    else:
        why = "advance(T) once per forward, after the last layer's update."
    expect.fail(f"4.5 {label}: cache.length is {length}, expected {want} ({before} cached + "
                f"{t_new} new): {why}")


def _expect_keys(buf, name: str, start: int, upto: int, label: str) -> None:
    """Positions [0, upto) of buffer `name` ('k' or 'v') hold the fixture's (the new ones,
    from `start` on, are looked at first); the rest is 0."""
    want = fx()[f"kv.{name}"][:, :, :, :upto]
    got = buf[:, :, :, :upto]
    if np.allclose(got, want, **expect.F64) and not np.any(buf[:, :, :, upto:]):
        return
    for pos in [*range(start, upto), *range(start)]:
        if not np.allclose(got[:, :, :, pos], want[:, :, :, pos], **expect.F64):
            found = [j for j in range(buf.shape[3])
                     if np.allclose(buf[:, :, :, j], want[:, :, :, pos], **expect.F64)]
            wrong = [layer for layer in range(got.shape[0]) if not np.allclose(
                got[layer, :, :, pos], want[layer, :, :, pos], **expect.F64)]
            if not found and wrong and wrong[0] > 0:  # layer 0's keys come from the tokens
                expect.fail(
                    f"4.5 {label}: cache.{name}[:, :, :, {pos}] holds layer 0's "
                    f"{'keys' if name == 'k' else 'values'} of position {pos} but not layer "
                    f"{wrong[0]}'s. A layer's keys and values come from the hidden states the "
                    "layers below give the new tokens, so check the forward of the new tokens "
                    "through those layers (their attention over the cached past, the MLP, the "
                    "residuals), not where update writes.")
            where = (f"they are at position {found[0]} instead" if found else
                     "no position of the buffer holds them" if not np.any(got[:, :, :, pos])
                     else "they are wrong")
            expect.fail(f"4.5 {label}: cache.{name}[:, :, :, {pos}] should hold every layer's "
                        f"{'keys' if name == 'k' else 'values'} of position {pos}; {where}. "
                        "update(layer, k_new, v_new) writes the T_new new positions at "
                        "[length, length + T_new) of that layer, in place.")
    expect.fail(f"4.5 {label}: cache.{name} holds nonzero entries beyond the {upto} positions "
                "filled: write the new keys/values at [length, length + T_new), nowhere else.")


PAST_ONLY = ("the new queries attend to the new keys/values alone, not to the cached past "
             "that kv_cache.update returns")


def _without_the_past(impl, idx, start: int, end: int) -> np.ndarray:
    """The probe: the logits of tokens [start, end) that see no earlier position, i.e. the
    full forward (3.11) of these tokens alone with wpe rows start..end-1 moved to 0.."""
    model = _model(impl)
    params = model.params
    params["wpe.weight"][:end - start] = params["wpe.weight"][start:end].copy()
    model.params = params
    return model.forward(idx[:, start:end])


def _run(impl, model, cache, schedule: str, max_len: int = MAX_LEN) -> None:
    """Feed the fixture tokens chunk by chunk; after each forward, check the cache and the
    logits (naming a known bug when the logits are one's)."""
    idx = get("kv.idx")
    full = fx()["kv.logits"]
    chunks = SCHEDULES[schedule]
    start = 0
    for t_new in chunks:
        end = start + t_new
        label = (f"decoding with {' then '.join(map(str, chunks))} tokens per forward, the "
                 f"forward of positions [{start}, {end})")
        try:
            logits = model.forward(idx[:, start:end], kv_cache=cache)
        except Exception as exc:  # noqa: BLE001 — a length moved mid-forward explains it
            if getattr(exc, "type_name", "") in ("NotImplementedError", "Timeout", "Crash"):
                raise
            if cache.length == start:
                raise
            expect.fail(f"4.5 {label}: your forward raised {exc} after cache.length had "
                        f"moved from {start} to {cache.length}: call advance(T) once per "
                        "forward, after the last layer (every layer writes the same positions "
                        "[L, L+T) and attends to [0, L+T)).")
        expect.array(logits, f"4.5 {label}: logits", shape=(B, t_new, V), dtype=np.float64)
        k, v = _buffers(cache, label, max_len)
        _length(cache, end, start, t_new, label)
        want = full[:, start:end]
        if not np.allclose(logits, want, **expect.F64):
            for bug, (cause, advice) in BUGS.items():
                key = f"kv.bug.{schedule}.{bug}"
                if key in fx() and np.allclose(logits, fx()[key][:, start:end], **expect.F64):
                    expect.fail(f"4.5 {label}: the logits are those of a known mistake. "
                                f"{advice} " + expect.cause(cause))
            if start > 0 and np.allclose(logits, _without_the_past(impl, idx, start, end),
                                         **expect.F64):
                expect.fail(f"4.5 {label}: the logits are those of the new tokens without the "
                            "cached positions (the full forward of these tokens alone). Each "
                            "block's attention must use the keys/values [0, L+T) returned by "
                            "kv_cache.update. " + expect.cause(PAST_ONLY))
            _expect_keys(k, "k", start, end, label)
            _expect_keys(v, "v", start, end, label)
            hint = ("The cached forward must equal GPT.forward on the whole sequence at these "
                    "positions: x = wte[idx] + wpe[L:L+T]; per block the queries of the new "
                    "tokens attend to keys/values [0, L+T) returned by kv_cache.update, with "
                    "causal_mask(T, L + T) when T > 1.")
            if start > 0:
                hint = (f"The first {start} positions were right, so the error comes with the "
                        "cached past: " + hint)
            expect.close(logits, want, f"4.5 {label}: logits", hint=hint)
        _expect_keys(k, "k", start, end, label)
        _expect_keys(v, "v", start, end, label)
        start = end


@check("4.5", weight=2)
def kv_cache_update_writes_in_place(impl):
    """preallocated zero buffers (n_layer, B, H_kv, max_len, D); update writes at length"""
    max_len = 7
    cache = impl.KVCache(N_LAYER, B, H, max_len, D, dtype=np.float64)
    k, v = _buffers(cache, f"KVCache({N_LAYER}, {B}, {H}, {max_len}, {D})", max_len)
    if np.any(k) or np.any(v) or cache.length != 0:
        expect.fail("4.5 a new KVCache should hold zeros (np.zeros) and length 0.")
    default = impl.KVCache(N_LAYER, B, H, max_len, D).k
    if not (isinstance(default, np.ndarray) and default.dtype == np.float32):
        expect.fail("4.5 KVCache(...) without dtype should allocate float32 buffers (the "
                    f"default dtype=np.float32), got {getattr(default, 'dtype', default)}.")
    rng = np.random.default_rng(3)
    new = [(rng.standard_normal((B, H, t, D)), rng.standard_normal((B, H, t, D)))
           for t in (2, 1, 1)]
    label = "update(1, k_new, v_new) with T_new = 2 on an empty cache"
    result = cache.update(1, *new[0])
    if not (isinstance(result, tuple) and len(result) == 2):
        expect.fail(f"4.5 {label} should return a pair (keys, values).")
    for name, got, want in zip(("keys", "values"), result, new[0]):
        expect.close(got, want, f"4.5 {label}: the {name} returned",
                     hint="Return the layer's keys/values of positions [0, length + T_new).")
    k, v = _buffers(cache, label, max_len)
    for name, buf, want in (("k", k, new[0][0]), ("v", v, new[0][1])):
        expected = np.zeros(buf.shape)
        expected[1, :, :, :2] = want
        expect.close(buf, expected, f"4.5 {label}: cache.{name}",
                     hint="Write k_new into k[layer, :, :, length:length + T_new] (and v_new "
                          "into v), at positions [length, length + T_new) of that layer only.")
    if cache.length != 0:
        expect.fail(f"4.5 {label}: cache.length became {cache.length}: update must not move "
                    "it (every layer of one forward writes the same positions); advance(T) "
                    "does, once per forward.")
    cache.advance(2)
    if cache.length != 2:
        expect.fail(f"4.5 advance(2) on an empty cache left length = {cache.length}, expected 2.")
    keys, values = cache.update(1, *new[1])
    label = "update(1, ...) with T_new = 1 after advance(2)"
    expect.close(keys, np.concatenate([new[0][0], new[1][0]], axis=2),
                 f"4.5 {label}: the keys returned",
                 hint="The new position goes at index length = 2, after the 2 cached ones, and "
                      "update returns positions [0, length + T_new).")
    expect.close(values, np.concatenate([new[0][1], new[1][1]], axis=2),
                 f"4.5 {label}: the values returned")
    keys, _ = cache.update(0, *new[2])
    expected = np.zeros((B, H, 3, D))
    expected[:, :, 2:] = new[2][0]
    expect.close(keys, expected, "4.5 update(0, ...) with T_new = 1 at length 2: the keys "
                 "returned", hint="Each layer has its own slice k[layer]: layer 0's positions "
                 "0, 1 were never written (zeros), its new key goes at position 2.")
    cache.reset()
    if cache.length != 0:
        expect.fail("4.5 reset() should set length back to 0.")


@check("4.5")
def decode_step_does_not_copy_the_cache(impl):
    """one decoding step against a long cache allocates far less than the cache (no copy)"""
    # Wide heads (D = 256) make the cached keys 256 times the step's scores, so a copy stands
    # far above what the worker's memory does by itself.
    cfg = {"vocab_size": 29, "block_size": 16384, "n_layer": 1, "n_head": 1, "n_embd": 256,
           "dtype": "float64"}
    model = impl.GPT(impl.GPTConfig(**cfg), np.random.default_rng(0))
    cache = impl.KVCache.for_model(model, 1)
    filled = cfg["block_size"] - 1
    cache.advance(filled)  # as if a prompt of 16,383 tokens were cached (zeros: no matter)
    logits, info = instrumented_call(model.forward, np.array([[3]]), kv_cache=cache)
    expect.array(logits, "4.5 GPT.forward(one token, kv_cache) at position 16383",
                 shape=(1, 1, cfg["vocab_size"]), dtype=np.float64)
    layer = filled * cfg["n_embd"] * 8
    if info.peak_bytes > PEAK_LIMIT:
        expect.fail(f"4.5 one decoding step against a cache of {filled} positions allocated "
                    f"{info.peak_bytes / 2**20:.1f} MiB, while one layer's keys take "
                    f"{layer / 2**20:.1f} MiB: the cached keys/values were copied (np.concatenate, "
                    "a new buffer per step, or .copy()). Write the new position into the "
                    "preallocated buffers and attend to views k[layer, :, :, :length + 1].")
    if cache.length != filled + 1:
        expect.fail(f"4.5 after one decoding step cache.length is {cache.length}, expected "
                    f"{filled + 1}.")


@check("4.5", weight=2)
def cached_prefill_matches_full_forward(impl):
    """the whole prompt in one cached forward: the full forward's logits, keys in place;
    last_only=True gives the last position's"""
    model = _model(impl)
    _run(impl, model, impl.KVCache.for_model(model, B, MAX_LEN), "prefill")
    cache = impl.KVCache.for_model(model, B, MAX_LEN)
    t = 5
    label = f"4.5 forward_with_cache(model, {t} tokens, cache, last_only=True)"
    logits = expect.call_pure(impl.forward_with_cache, "forward_with_cache", model,
                              get("kv.idx")[:, :t], cache, last_only=True)
    if np.shape(logits) == (B, t, V):
        expect.fail(f"{label} returned every position's logits, shape {(B, t, V)}: "
                    "last_only=True returns the last new position's only, (B, 1, V).")
    expect.array(logits, label, shape=(B, 1, V))
    expect.close(logits, fx()["kv.logits"][:, t - 1:t], f"{label}: logits",
                 hint="last_only=True returns the logits of the last new position only, "
                      "(B, 1, V): those of position t - 1.")
    if cache.length != t:
        expect.fail(f"{label} left cache.length = {cache.length}, expected {t}: every "
                    "position's keys and values are cached, whatever the head computes.")


@check("4.5", weight=2)
def decode_one_token_per_step_matches_full_forward(impl):
    """prefill 3 tokens, then one per step: every step's logits are the full forward's"""
    model = _model(impl)
    _run(impl, model, impl.KVCache.for_model(model, B, MAX_LEN), "decode")


@check("4.5", weight=2)
def chunked_prefill_offsets_the_causal_mask(impl):
    """prefill 3, then 2, then 4 tokens: fewer queries than keys need the offset mask"""
    model = _model(impl)
    _run(impl, model, impl.KVCache.for_model(model, B, MAX_LEN), "chunked")


@check("4.5", weight=2)
def generate_greedy_with_and_without_cache(impl):
    """generate: the prompt then the greedy tokens, the same with use_cache=False"""
    model = _model(impl)
    prompt = get("kv.idx")[:, :3]
    want = fx()["kv.greedy"]
    new = want.shape[1] - prompt.shape[1]
    for use_cache in (True, False):
        label = f"4.5 generate(model, prompt (3, 3), {new}, use_cache={use_cache})"
        out = impl.generate(model, prompt, new, use_cache=use_cache)
        if isinstance(out, np.ndarray) and out.shape == (B, new):
            expect.fail(f"{label} returned shape {out.shape}, expected {want.shape}: the "
                        "output starts with the prompt, followed by the new tokens.")
        expect.array(out, label, shape=want.shape, dtype=np.int64)
        if not np.array_equal(out[:, :3], prompt):
            expect.fail(f"{label}: the first 3 columns should be the prompt {prompt.tolist()}, "
                        f"got {out[:, :3].tolist()}.")
        if not np.array_equal(out, want):
            step = int(np.argmax(np.any(out != want, axis=0)))
            how = ("one forward of the whole sequence so far, ids[:, :t], at every step"
                   if not use_cache else "the prompt prefilled in one cached forward, then "
                   "one forward per new token with kv_cache")
            expect.fail(f"{label} returned {out.tolist()}, expected {want.tolist()} (first "
                        f"difference at position {step}). Greedy decoding: {how}; the next "
                        "token is the argmax of the LAST position's logits (greedy from 4.4).")
    # Sampling draws one number per row and step from rng, so the two modes agree token for
    # token with equal seeds, whatever sample_next_token (4.4) does.
    try:
        sampled = [impl.generate(model, prompt, new, temperature=1.5, rng=np.random.default_rng(
            9), use_cache=use_cache) for use_cache in (True, False)]
    except (StudentNotImplemented, NotImplementedError):  # 4.4 not done yet: nothing to compare
        sampled = None
    if sampled is not None and not np.array_equal(*sampled):
        expect.fail(f"4.5 generate(..., temperature=1.5, rng=default_rng(9)) gave "
                    f"{np.asarray(sampled[0]).tolist()} with the cache and "
                    f"{np.asarray(sampled[1]).tolist()} without: with equal seeds both modes "
                    "must give the same tokens (the same logits, then the same draws: "
                    "sample_next_token(logits[:, -1], rng, temperature, top_k, top_p) once per "
                    "step).")
    out = impl.generate(model, prompt, 0)
    if not (isinstance(out, np.ndarray) and np.array_equal(out, prompt)
            and out.dtype == np.int64):
        expect.fail("4.5 generate(model, prompt, 0) should return the prompt itself as int64 "
                    f"(nothing to generate), got {out!r:.80}.")


@check("4.5")
def kv_cache_overflow_is_detected(impl):
    """writing past max_len raises a ValueError that says 'overflow', and changes nothing"""
    cache = impl.KVCache(N_LAYER, B, H, 4, D, dtype=np.float64)
    rng = np.random.default_rng(5)
    k3, k2 = rng.standard_normal((B, H, 3, D)), rng.standard_normal((B, H, 2, D))
    cache.update(0, k3, k3)
    cache.advance(3)
    cases = (("update(0, k_new, v_new) with 2 new positions when 3 of max_len = 4 are filled",
              cache.update, (0, k2, k2)),
             ("advance(2) when 3 of max_len = 4 are filled", cache.advance, (2,)))
    for what, fn, args in cases:
        raised = _raised(fn, *args)
        if raised is None:
            expect.fail(f"4.5 {what} did not raise: raise ValueError('... overflow ...') "
                        "instead of writing past the end or moving length beyond max_len.")
        name, message = raised
        if name != "ValueError" or not any(w in message.lower() for w in ("overflow",
                                                                           "max_len")):
            expect.fail(f"4.5 {what} raised {name}: {message!r:.120}; expected a ValueError "
                        "whose message says the cache would overflow (and names max_len), "
                        "checked before anything is written.")
        if cache.length != 3:
            expect.fail(f"4.5 after the failed {what}, length is {cache.length}: a refused "
                        "write must leave the cache as it was (length 3).")
    model = _model(impl)
    cache = impl.KVCache.for_model(model, B, 4)
    model.forward(get("kv.idx")[:, :3], kv_cache=cache)
    raised = _raised(lambda: model.forward(get("kv.idx")[:, 3:5], kv_cache=cache))
    if raised is None or raised[0] != "ValueError":
        expect.fail("4.5 GPT.forward(2 tokens, kv_cache) with 3 of max_len = 4 positions "
                    f"cached should raise ValueError (overflow), got {raised}.")


def _float32_model(impl):
    model = impl.GPT(impl.GPTConfig(**{**KV_CONFIG, "dtype": "float32"}),
                     np.random.default_rng(0))
    model.params = {str(n): get(f"kv.params.{n}").astype(np.float32) for n in fx()["kv.names"]}
    return model


@check("4.5")
def cached_forward_keeps_float32(impl):
    """a float32 model: float32 buffers and logits, close to float64; idx untouched"""
    model = _float32_model(impl)
    cache = impl.KVCache.for_model(model, B, MAX_LEN)
    idx = get("kv.idx")
    full = fx()["kv.logits"]
    scale = float(np.abs(full).max())
    start = 0
    for t_new in (3, 1):
        label = f"4.5 forward_with_cache of a float32 model, positions [{start}, {start + t_new})"
        # cache.forward is the given KVCache.forward: forward_with_cache(model, idx, cache)
        logits = expect.call_pure(cache.forward, "forward_with_cache", model,
                                  idx[:, start:start + t_new])
        expect.array(logits, f"{label}: logits", shape=(B, t_new, V), dtype=np.float32)
        expect.close(logits, full[:, start:start + t_new], f"{label}: logits",
                     rtol=1e-3, atol=1e-4 * scale,
                     hint="float32 should stay close to the float64 logits (only rounding "
                          "differs).")
        _buffers(cache, label, MAX_LEN, dtype=np.float32)
        start += t_new


def _replay(impl, model, prompt, new: int, seed: int, **options):
    """generate's documented loop with the student's own sampler: full forward, last logits,
    sample_next_token(last, rng, temperature, top_k, top_p) once per step."""
    rng = np.random.default_rng(seed)
    ids = np.array(prompt, dtype=np.int64)
    for _ in range(new):
        last = model.forward(ids)[:, -1]
        token = impl.sample_next_token(last, rng, options.get("temperature", 0.0),
                                       options.get("top_k"), options.get("top_p"))
        ids = np.concatenate([ids, np.asarray(token, dtype=np.int64)[:, None]], axis=1)
    return ids


@check("4.5")
def generate_passes_the_sampling_options(impl):
    """generate(temperature=, top_k=, top_p=, rng=) reaches sample_next_token as given"""
    model = _model(impl)
    prompt = get("kv.idx")[:, :3]
    new = 6
    # 4.4 first: top_k=1 must leave only the argmax (else this check cannot tell).
    x = np.random.default_rng(1).standard_normal((B, V))
    if not np.array_equal(np.asarray(impl.sample_next_token(x, np.random.default_rng(0), 3.0,
                                                            1, None)), x.argmax(axis=-1)):
        expect.fail("4.5 skipped until sample_next_token (4.4) passes: with top_k=1 it should "
                    "return the argmax.")
    cases = ((dict(temperature=3.0, top_k=2), 1), (dict(temperature=3.0, top_p=0.3), 2),
             (dict(temperature=0.3), 3))
    for options, seed in cases:
        shown = ", ".join(f"{k}={v}" for k, v in options.items())
        label = f"4.5 generate(model, prompt, {new}, {shown}, rng=default_rng({seed}))"
        out = expect.call_pure(impl.generate, "generate", model, prompt, new,
                               rng=np.random.default_rng(seed), **options)
        expect.array(out, label, shape=(B, 3 + new), dtype=np.int64)
        want = _replay(impl, model, prompt, new, seed, **options)
        if np.array_equal(out, want):
            continue
        found = (f"{label} gave {np.asarray(out).tolist()}; one sample_next_token(logits of "
                 f"the last position, rng, {shown}) per step gives {want.tolist()}.")
        for name, default in (("top_k", None), ("top_p", None), ("temperature", 1.0)):
            if name in options and np.array_equal(out, _replay(
                    impl, model, prompt, new, seed, **{**options, name: default})):
                expect.fail(f"{found} " + expect.cause(
                    f"generate does not pass {name} on to sample_next_token"))
        expect.fail(f"{found} Pass temperature, top_k, top_p and rng to sample_next_token "
                    "(4.4) at every step.")
    out = impl.generate(model, prompt, 2, temperature=1.0)  # rng=None: a fresh generator
    expect.array(out, "4.5 generate(model, prompt, 2, temperature=1.0) without rng",
                 shape=(B, 5), dtype=np.int64)
    if not (np.array_equal(out[:, :3], prompt) and out.min() >= 0 and out.max() < V):
        expect.fail("4.5 generate(..., temperature=1.0) without rng should sample from a fresh "
                    f"generator, got {out.tolist()}.")


@check("4.5")
def generate_and_cache_reject_bad_arguments(impl):
    """the documented TypeError / ValueErrors of generate, KVCache and forward_with_cache"""
    model = _model(impl)
    prompt = get("kv.idx")[:, :3]
    expect.raises(impl.generate, TypeError, "generate with a model that is not a GPT",
                  "gpt2", prompt, 1)
    for what, args, kwargs in (("a 1-D prompt", (model, prompt[0], 1), {}),
                               ("max_new_tokens = -1", (model, prompt, -1), {}),
                               ("temperature = -1", (model, prompt, 1), {"temperature": -1.0}),
                               ("T0 + max_new_tokens > block_size", (model, prompt, 9), {})):
        expect.raises(impl.generate, ValueError, f"generate with {what}", *args, **kwargs)
    for what, args, kwargs in (("n_layer = 0", (0, B, H, 4, D), {}),
                               ("an integer dtype", (N_LAYER, B, H, 4, D), {"dtype": np.int32})):
        expect.raises(impl.KVCache, ValueError, f"KVCache with {what}", *args, **kwargs)
    cache = impl.KVCache(N_LAYER, B, H, 4, D, dtype=np.float64)
    k = np.zeros((B, H, 1, D))
    expect.raises(cache.update, ValueError, "update(layer=2) on a 2-layer cache", 2, k, k)
    expect.raises(cache.update, ValueError, "update with k_new of the wrong head_dim", 0,
                  np.zeros((B, H, 1, D + 1)), np.zeros((B, H, 1, D + 1)))
    expect.raises(cache.advance, ValueError, "advance(-1)", -1)
    wrong = impl.KVCache(N_LAYER, B + 1, H, 4, D, dtype=np.float64)
    expect.raises(wrong.forward, ValueError, "forward_with_cache with a cache for another "
                  "batch size", model, prompt)


@check("4.5")
def generate_uses_the_cache_by_default(impl):
    """generate without use_cache decodes with the cache: no full forward per step"""
    V_BIG, NEW = 2048, 100
    cfg = {"vocab_size": V_BIG, "block_size": 128, "n_layer": 1, "n_head": 1, "n_embd": 8,
           "dtype": "float64"}
    model = impl.GPT(impl.GPTConfig(**cfg), np.random.default_rng(0))
    out, info = instrumented_call(impl.generate, model, np.array([[1]]), NEW)
    expect.array(out, f"4.5 generate(model, prompt (1, 1), {NEW})", shape=(1, 1 + NEW),
                 dtype=np.int64)
    # With the cache a step computes (1, 1, V) logits; a full forward of the last step alone
    # computes (1, NEW, V) of them, 1.6 MB, and the cache itself takes 13 KB. The run with
    # use_cache=False is the yardstick: a cached run that keeps every step's logits stays
    # far below it.
    full = NEW * V_BIG * 8
    _, baseline = instrumented_call(impl.generate, model, np.array([[1]]), NEW,
                                    use_cache=False)
    if info.peak_bytes > full / 3 and info.peak_bytes >= baseline.peak_bytes / 2:
        expect.fail(f"4.5 generate(model, prompt, {NEW}) without use_cache allocated "
                    f"{info.peak_bytes / 2**20:.1f} MiB at its peak, about what full forwards "
                    f"of the whole sequence need ({full / 2**20:.1f} MiB of logits at the last "
                    "step). use_cache=True is the default: prefill the prompt into a KVCache, "
                    "then one forward per new token on that token alone.")


@check("4.5")
def cached_attention_attends_to_the_past(impl):
    """cached_attention(cache, layer): new keys added, queries see the past, q k v unchanged"""
    rng = np.random.default_rng(11)
    past_k, past_v = rng.standard_normal((2, B, H, 2, D))
    q, k, v = rng.standard_normal((3, B, H, 1, D))
    cache = impl.KVCache(N_LAYER, B, H, 6, D, dtype=np.float64)
    cache.update(1, past_k, past_v)
    cache.advance(2)
    attention = impl.cached_attention(cache, 1)
    label = "4.5 cached_attention(cache, 1)(q, k, v) with 2 cached positions"
    result = expect.call_pure(attention, "the attention cached_attention returns", q, k, v)
    out, _ = expect.pair(result, "the attention cached_attention returns")
    keys, values = np.concatenate([past_k, k], axis=2), np.concatenate([past_v, v], axis=2)
    scores = q @ np.swapaxes(keys, -1, -2) / np.sqrt(D)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    expect.close(out, weights @ values, label,
                 hint="Add k, v with kv_cache.update(layer, k, v) and attend to the keys and "
                      "values it returns (the cached past and the new ones), not to k, v alone.")
