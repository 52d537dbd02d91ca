"""The KV cache and cached generation (exercise 4.5).

A causal decoder computes the keys and values of position t from the tokens ``<= t`` only, so
once computed they never change: generating token ``L+1`` needs the new query of position L
and the keys/values of positions ``0..L``, of which all but the last were computed at earlier
steps. A KV cache keeps them, per layer, in buffers allocated once::

    k, v: (n_layer, B, H_kv, max_len, D)      positions [0, length) are filled

and a forward with the cache (``GPT.forward(idx, kv_cache=cache)``, which hands the work to
``cache.forward(model, idx)``, that is ``forward_with_cache`` below) runs only the T new
tokens, at positions ``[L, L+T)`` with ``L = cache.length``: their keys/values are written
into the buffers, their queries attend to the ``L + T`` cached keys with the causal mask offset
by L, and the logits are exactly those of the full forward at these positions. Each block is
GPT's own ``block_forward`` (3.11), given an attention that goes through the cache
(``cached_attention``). ``generate`` prefills the prompt in one such forward (the head on its
last position only: the next token's scores), then decodes one token per forward;
``use_cache=False`` recomputes the whole sequence at every step instead (the baseline: same
tokens, O(L) times the work per token).
"""

import numpy as np

from ..self_attention.attention import scaled_dot_product_attention
from ..self_attention.masks import causal_mask
from ..transformer.gpt import GPT
from ..transformer.norms import layer_norm
from .sampling import greedy, sample_next_token


def _positive_int(value, name, where):
    """Raise unless ``value`` is an int >= 1 (given)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")


class KVCache:
    """Preallocated keys and values of every layer, for decoding (exercise 4.5).

    ``KVCache(n_layer, batch_size, n_kv_heads, max_len, head_dim, dtype=np.float32)``
    allocates, once, two zero-filled buffers

        ``k``, ``v``: ``(n_layer, B, H_kv, max_len, D)`` of ``dtype``

    (``B = batch_size``, ``H_kv = n_kv_heads``, ``D = head_dim``). ``length`` counts the
    positions filled, the same for every layer: ``k[i, :, :, :length]`` are layer i's keys
    of positions ``0..length-1``. The buffers are never reallocated, grown or concatenated:
    a decoding step writes one position into them in place.

    One forward with the cache does, for every layer i, ``keys, values = update(i, k_new,
    v_new)`` (write the new positions ``[length, length + T_new)``, read all of them back),
    and after the last layer ``advance(T_new)``: ``length`` moves once per forward, not once
    per layer.

    GPT-2 has ``n_kv_heads == n_head``; grouped-query attention (exercise 4.6) keeps fewer
    key/value heads than query heads, hence the separate size.

    Attributes:
        n_layer, batch_size, n_kv_heads, max_len, head_dim: the sizes above (ints).
        dtype: the buffers' ``np.dtype`` (use the model's: float32 on the fast path).
        k, v: the buffers ``(n_layer, B, H_kv, max_len, D)``.
        length: positions filled, ``0 <= length <= max_len`` (0 after construction).
    """

    def __init__(self, n_layer, batch_size, n_kv_heads, max_len, head_dim, dtype=np.float32):
        """Allocate the zero-filled buffers (exercise 4.5).

        Raises:
            ValueError: if a size is not a positive integer or dtype is not floating.
        """
        sizes = {"n_layer": n_layer, "batch_size": batch_size, "n_kv_heads": n_kv_heads,
                 "max_len": max_len, "head_dim": head_dim}
        for name, value in sizes.items():
            _positive_int(value, name, "KVCache")
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise ValueError(f"KVCache: dtype must be a floating dtype, got {dtype!r}")
        self.n_layer, self.batch_size, self.n_kv_heads = int(n_layer), int(batch_size), \
            int(n_kv_heads)
        self.max_len, self.head_dim, self.dtype = int(max_len), int(head_dim), np.dtype(dtype)
        ### BEGIN SOLUTION
        shape = (self.n_layer, self.batch_size, self.n_kv_heads, self.max_len, self.head_dim)
        self.k = np.zeros(shape, dtype=self.dtype)  # allocated once, written in place
        self.v = np.zeros(shape, dtype=self.dtype)
        self.length = 0
        ### END SOLUTION

    @classmethod
    def for_model(cls, model, batch_size, max_len=None):
        """A cache that fits ``model`` (a ``GPT``): one layer per block, ``n_kv_heads`` =
        ``n_head`` (or ``config.n_kv_heads`` where it exists), ``D = n_embd / n_head``, the
        dtype of ``model.params`` and ``max_len`` = ``config.block_size`` by default (given).
        """
        cfg = model.config
        n_kv_heads = getattr(cfg, "n_kv_heads", None) or cfg.n_head
        return cls(cfg.n_layer, batch_size, n_kv_heads,
                   cfg.block_size if max_len is None else max_len,
                   cfg.n_embd // cfg.n_head, model.params["wte.weight"].dtype)

    def update(self, layer, k_new, v_new):
        """Write one layer's new keys/values at ``[length, length + T_new)`` and return all of
        that layer's keys/values so far (exercise 4.5).

        Does not move ``length`` (``advance`` does, once every layer is written).

        Args:
            layer: the layer index, ``0 <= layer < n_layer``.
            k_new, v_new: ``(B, H_kv, T_new, D)``, ``T_new >= 1``: the keys and values of the
                positions ``length .. length + T_new - 1``.

        Returns:
            keys, values: ``(B, H_kv, length + T_new, D)``, views of ``k[layer]`` and
            ``v[layer]`` (no copy): positions ``0 .. length + T_new - 1``.

        Raises:
            ValueError: if ``layer`` is out of range or the shapes do not fit; and, with a
                message that says "overflow", if ``length + T_new > max_len`` (nothing is
                written then).
        """
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not (
                0 <= layer < self.n_layer):
            raise ValueError(f"KVCache.update: layer must be in [0, {self.n_layer}), got "
                             f"{layer!r}")
        expected = (self.batch_size, self.n_kv_heads, "T_new", self.head_dim)
        for name, new in (("k_new", k_new), ("v_new", v_new)):
            shape = np.shape(new)
            if len(shape) != 4 or shape[:2] != expected[:2] or shape[3] != expected[3] or (
                    shape[2] < 1 or shape[2] != np.shape(k_new)[2]):
                raise ValueError(f"KVCache.update: {name} must be (B, H_kv, T_new, D) = "
                                 f"{expected} with T_new >= 1 (the same for k and v), got "
                                 f"{shape}")
        ### BEGIN SOLUTION
        start, end = self.length, self.length + np.shape(k_new)[2]
        if end > self.max_len:
            raise ValueError(f"KVCache.update: cache overflow: {start} positions filled + "
                             f"{end - start} new > max_len = {self.max_len}")
        self.k[layer, :, :, start:end] = k_new  # in place: no new buffer, no concatenation
        self.v[layer, :, :, start:end] = v_new
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]  # views, (B, H_kv, end, D)
        ### END SOLUTION

    def advance(self, n):
        """Mark ``n`` more positions as filled, ``length += n`` (exercise 4.5).

        Called once per forward, after the last layer's ``update`` (with that forward's T).

        Raises:
            ValueError: if ``n < 0``; and, with a message that says "overflow", if
                ``length + n > max_len`` (``length`` is unchanged then).
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"KVCache.advance: n must be an integer >= 0, got {n!r}")
        ### BEGIN SOLUTION
        if self.length + n > self.max_len:
            raise ValueError(f"KVCache.advance: cache overflow: {self.length} + {n} > max_len "
                             f"= {self.max_len}")
        self.length += int(n)
        ### END SOLUTION

    def reset(self):
        """Forget every position (``length = 0``) to reuse the buffers for a new sequence
        (given: stale entries beyond ``length`` are never read)."""
        self.length = 0

    def forward(self, model, idx):
        """``model.forward(idx, kv_cache=self)`` runs this: ``forward_with_cache(model, idx,
        self)`` (given). The GPT (Module 3) calls it without importing this module."""
        return forward_with_cache(model, idx, self)


def cached_attention(kv_cache, layer):
    """The attention of block ``layer`` through ``kv_cache``, for ``GPT.block_forward`` (part
    of exercise 4.5).

    Returns:
        ``attention(q, k, v, mask=None) -> (heads, cache)``, as
        ``scaled_dot_product_attention`` (1.4) but on the cached past too: it writes the new
        keys/values ``(B, H, T, D)`` with ``kv_cache.update(layer, k, v)`` and lets the T
        queries attend to every position so far, ``(B, H, L+T, D)``.
    """
    ### BEGIN SOLUTION
    def attention(q, k, v, mask=None):
        keys, values = kv_cache.update(layer, k, v)  # (B, H, L+T, D): the past and the new
        T, T_k = q.shape[-2], keys.shape[-2]
        if mask is not None and not (mask.dtype == bool and mask.shape == (T, T_k)
                                     and mask.any(axis=-1).all()):
            return scaled_dot_product_attention(q, keys, values, mask)  # 1.4's, any mask
        # Every query sees at least one key (a single query sees all of them: no mask), so
        # no row is all -inf and the softmax needs no guard: each head's rows in place, in
        # four calls (a decoding step is a few dozen small NumPy calls, and each counts).
        # 1/sqrt(D) scales q, T D numbers rather than T (L+T) scores; a Python float keeps
        # float32 float32.
        scores = (q * q.shape[-1] ** -0.5) @ np.swapaxes(keys, -1, -2)  # (B, H, T, L+T)
        if mask is not None:  # several queries: query i sees keys j <= L + i
            np.copyto(scores, -np.inf, where=~mask)
        scores -= scores.max(axis=-1, keepdims=True)  # exp of values <= 0: no overflow
        weights = np.exp(scores, out=scores)
        weights /= weights.sum(axis=-1, keepdims=True)
        return weights @ values, {"weights": weights}  # (B, H, T, D)

    return attention
    ### END SOLUTION


def forward_with_cache(model, idx, kv_cache, last_only=False):
    """GPT-2 logits of T new tokens, attending to the cached past (exercise 4.5).

    ``idx`` holds the tokens at positions ``[L, L+T)`` with ``L = kv_cache.length``. The
    computation is ``GPT.forward``'s (3.11) restricted to these rows:

        x = wte[idx] + wpe[L : L+T]                                   (B, T, C)
        per block i: x = model.block_forward(x, i, B, T, mask, cached_attention(kv_cache, i))
            (inside: q, k, v of the new tokens (B, H, T, D); keys, values =
            kv_cache.update(i, k, v), (B, H, L+T, D); the queries attend to those)
        logits = ln_f(x) @ wte^T                                      (B, T, V)

    with the causal mask offset by L: query i (position L+i) may see keys ``j <= L + i``,
    ``causal_mask(T, L + T)``; a single query (T = 1, decoding) sees every key and needs no
    mask. Then ``kv_cache.advance(T)``.

    Args:
        model: a ``GPT`` (3.11); computes in the dtype of ``model.params``.
        idx: integer token ids ``(B, T)``, ``T >= 1``.
        kv_cache: a ``KVCache`` with ``batch_size == B``, one layer per block, ``n_head``
            heads of width ``n_embd / n_head``, and room for T more positions.
        last_only: return the logits of the last new position only, ``(B, 1, V)``: the
            next token's scores, all that ``generate`` needs after its prefill. The head's
            product for the other T - 1 positions (2 (T-1) C V FLOPs) is skipped; every
            position's keys and values are still cached.

    Returns:
        logits: ``(B, T, V)``, equal to ``model.forward(whole sequence)[:, L:L+T]``; with
        ``last_only``, ``(B, 1, V)``, equal to its last position ``[:, L+T-1 : L+T]``.

    Raises:
        ValueError: if the cache does not fit the model or the batch, if ``L + T`` exceeds
            ``block_size`` (no position embedding), or (from ``update``, before anything is
            written) if ``L + T > kv_cache.max_len``.
    """
    cfg, p = model.config, model.params
    idx = np.asarray(idx)
    B, T = idx.shape
    C, H, L = cfg.n_embd, cfg.n_head, kv_cache.length
    fits = {"n_layer": cfg.n_layer, "batch_size": B, "n_kv_heads": H, "head_dim": C // H}
    for name, want in fits.items():
        if getattr(kv_cache, name) != want:
            raise ValueError(f"forward_with_cache: the cache has {name} = "
                             f"{getattr(kv_cache, name)}, the model and batch need {want}")
    if L + T > cfg.block_size:
        raise ValueError(f"forward_with_cache: positions up to {L + T} exceed block_size = "
                         f"{cfg.block_size} (wpe.weight has one row per position)")
    ### BEGIN SOLUTION
    # One row as a vector (C,): NumPy computes vector @ matrix as a matrix-vector product
    # (gemv), faster than a 1-row matrix product; every layer of the block accepts (..., C).
    rows = (C,) if B * T == 1 else (B * T, C)
    x = (p["wte.weight"][idx] + p["wpe.weight"][L:L + T]).reshape(rows)  # positions L..L+T-1
    mask = None if T == 1 else causal_mask(T, L + T)  # (T, L+T): query i sees keys j <= L+i
    for i in range(cfg.n_layer):
        x = model.block_forward(x, i, B, T, mask, cached_attention(kv_cache, i))[0]
    kv_cache.advance(T)  # once per forward: every layer wrote the same T positions
    if last_only and T > 1:  # the next token's scores only: the head is 1/3 of a prefill
        x, T = x.reshape(B, T, C)[:, -1].reshape((C,) if B == 1 else (B, C)), 1
    x = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], cfg.layer_norm_epsilon)[0]
    return (x @ p["wte.weight"].T).reshape(B, T, cfg.vocab_size)  # the tied head
    ### END SOLUTION


def generate(model, prompt, max_new_tokens, *, temperature=0.0, top_k=None, top_p=None,
             rng=None, use_cache=True):
    """Continue every prompt by ``max_new_tokens`` tokens (exercise 4.5).

    Each step picks the next token from the logits of the last position: the argmax when
    ``temperature == 0`` (greedy, deterministic), else a sample (4.4). With the cache (the
    default): one ``KVCache.for_model(model, B, max_len=T0 + max_new_tokens)``, the prompt
    prefilled in one forward (all its positions at once, ``forward_with_cache(...,
    last_only=True)``: only the last position's logits are needed), then one forward per new
    token on that token alone. With ``use_cache=False``: the full forward on the whole
    sequence so far at every step (the baseline; same tokens, more work). Both modes give the
    same tokens. No stopping at an end-of-text token: every row gets exactly
    ``max_new_tokens`` more.

    Args:
        model: a ``GPT`` (3.11).
        prompt: integer ids ``(B, T0)``, ``T0 >= 1``.
        max_new_tokens: int >= 0.
        temperature: 0 for greedy decoding, > 0 to sample from ``softmax(logits / T)``.
        top_k, top_p: optional filters of the sampling (``sample_next_token``, 4.4).
        rng: the ``np.random.Generator`` that sampling draws from, one number per row and
            step (unused when greedy; ``None``: a fresh, unseeded generator).
        use_cache: decode with a KV cache (True) or recompute everything (False).

    Returns:
        ids: ``(B, T0 + max_new_tokens)`` int64, the prompt followed by the new tokens.

    Raises:
        TypeError: if model is not a ``GPT``.
        ValueError: if the prompt is not ``(B, T0)`` integer ids, ``max_new_tokens < 0``,
            ``temperature < 0``, or ``T0 + max_new_tokens > block_size``.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"generate: model must be a GPT (3.11), got {type(model).__name__}")
    prompt = np.asarray(prompt)
    if not np.issubdtype(prompt.dtype, np.integer) or prompt.ndim != 2 or 0 in prompt.shape:
        raise ValueError(f"generate: prompt must be integer ids (B, T0) with B, T0 >= 1, got "
                         f"{prompt.dtype} {prompt.shape}")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) \
            or max_new_tokens < 0:
        raise ValueError(f"generate: max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if not temperature >= 0:
        raise ValueError(f"generate: temperature must be >= 0, got {temperature}")
    if temperature > 0 and rng is None:
        rng = np.random.default_rng()
    B, T0 = prompt.shape
    total = T0 + int(max_new_tokens)
    if total > model.config.block_size:
        raise ValueError(f"generate: T0 + max_new_tokens = {T0} + {max_new_tokens} = {total} "
                         f"exceeds block_size = {model.config.block_size} (no position "
                         "embedding beyond it)")
    ### BEGIN SOLUTION
    ids = np.empty((B, total), dtype=np.int64)
    ids[:, :T0] = prompt
    cache = KVCache.for_model(model, B, max_len=total) if use_cache else None
    for t in range(T0, total):
        if cache is None:
            logits = model.forward(ids[:, :t])  # (B, t, V): everything, every step
        elif t == T0:
            logits = forward_with_cache(model, ids[:, :T0], cache, last_only=True)  # prefill
        else:
            logits = model.forward(ids[:, t - 1:t], kv_cache=cache)  # (B, 1, V): one token
        last = logits[:, -1]  # (B, V): the scores of the token after position t-1
        if temperature == 0:
            ids[:, t] = greedy(last)
        else:
            ids[:, t] = sample_next_token(last, rng, temperature, top_k, top_p)
    return ids
    ### END SOLUTION
