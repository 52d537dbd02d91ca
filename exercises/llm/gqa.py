"""Grouped-query attention and the size of a KV cache (exercise 4.6).

Multi-head attention (MHA) gives each of the H query heads its own key and value head.
Grouped-query attention (GQA; Ainslie et al., 2023) keeps H query heads but only
``H_kv`` key/value heads, ``H_kv`` dividing ``H``: the query heads come in ``H_kv`` groups of
``n_rep = H / H_kv`` consecutive heads, and every head of group ``g`` attends with kv head
``g``::

    query head   0  1  2  3  4  5        (H = 6, H_kv = 2, n_rep = 3)
    kv head      0  0  0  1  1  1        (query head h uses kv head h // n_rep)

MHA is ``H_kv = H``, multi-query attention (MQA; Shazeer, 2019) is ``H_kv = 1``. The KV cache
of a decoder shrinks by the factor ``n_rep``; the number of query heads, and so the model's
width, does not change.
"""

import numpy as np

from ..self_attention.attention import scaled_dot_product_attention

# NumPy has no bfloat16; its size is the one dtype name NumPy cannot answer.
_EXTRA_ITEMSIZE = {"bfloat16": 2, "bf16": 2}


def dtype_itemsize(dtype):
    """Bytes per element of ``dtype`` (given, not an exercise).

    Anything ``np.dtype`` accepts (``"float16"``, ``np.float32``, ``"int8"``, ...), or
    ``"bfloat16"`` (2 bytes), which NumPy does not have.
    """
    if isinstance(dtype, str) and dtype.lower() in _EXTRA_ITEMSIZE:
        return _EXTRA_ITEMSIZE[dtype.lower()]
    return np.dtype(dtype).itemsize


def config_value(config, name, default=None):
    """``config[name]`` for a dict, ``config.name`` for an object such as ``GPTConfig``
    (given, not an exercise); ``default`` when it is missing or None."""
    value = config.get(name) if isinstance(config, dict) else getattr(config, name, None)
    return default if value is None else value


def repeat_kv(x, n_rep):
    """Repeat each key/value head ``n_rep`` times, as Hugging Face's ``repeat_kv`` (exercise 4.6).

    ``out[:, h] = x[:, h // n_rep]``: the copies of one head are *adjacent* (head order
    0, 0, 1, 1, ... for ``n_rep = 2``), not tiled (0, 1, 0, 1, ...), which would pair query
    heads with the wrong kv heads.

    Args:
        x: keys or values ``(B, H_kv, T, D)``.
        n_rep: how many query heads share each kv head (int >= 1).

    Returns:
        ``(B, H_kv * n_rep, T, D)``, same dtype. ``n_rep = 1`` returns ``x`` itself.

    Raises:
        ValueError: if ``x`` is not 4-D or ``n_rep`` is not a positive integer.
    """
    if np.ndim(x) != 4:
        raise ValueError(f"repeat_kv: x must be (B, H_kv, T, D), got shape {np.shape(x)}")
    if isinstance(n_rep, bool) or not isinstance(n_rep, (int, np.integer)) or n_rep < 1:
        raise ValueError(f"repeat_kv: n_rep must be a positive integer, got {n_rep!r}")
    raise NotImplementedError(
        "Exercise 4.6 (repeat_kv) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#7-grouped-query-attention"
    )


def grouped_query_attention(q, k, v, mask=None):
    """Scaled dot-product attention with H query heads sharing H_kv kv heads (exercise 4.6).

    Query head ``h`` attends with kv head ``h // (H / H_kv)``:
    ``out[:, h] = softmax(mask(q[:, h] k[:, g]^T / sqrt(D))) v[:, g]`` with ``g = h // n_rep``.
    ``H_kv = H`` is multi-head attention, ``H_kv = 1`` multi-query attention.

    Args:
        q: queries ``(B, H, T_q, D)``.
        k: keys ``(B, H_kv, T_k, D)``, ``H_kv`` dividing ``H``.
        v: values ``(B, H_kv, T_k, D)``.
        mask: optional boolean array broadcastable to ``(B, H, T_q, T_k)``, True = may attend
            (Module 1's convention, e.g. ``causal_mask(T_q, T_k)``).

    Returns:
        ``(B, H, T_q, D)``, the dtype of the inputs. A query whose keys are all masked gets
        a zero output.

    Raises:
        ValueError: if an input is not 4-D, ``H`` is not a multiple of ``H_kv``, or the other
            sizes do not fit together (``scaled_dot_product_attention``'s checks).
    """
    for name, a in (("q", q), ("k", k), ("v", v)):
        if np.ndim(a) != 4:
            raise ValueError(f"grouped_query_attention: {name} must be (B, heads, T, D), "
                             f"got shape {np.shape(a)}")
    H, H_kv = q.shape[1], k.shape[1]
    if v.shape[1] != H_kv:
        raise ValueError(f"grouped_query_attention: k and v must have the same number of "
                         f"heads, got k {k.shape} and v {v.shape}")
    if H % H_kv != 0:
        raise ValueError(f"grouped_query_attention: the number of query heads H = {H} must "
                         f"be a multiple of the number of kv heads H_kv = {H_kv}")
    raise NotImplementedError(
        "Exercise 4.6 (grouped_query_attention) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#7-grouped-query-attention"
    )


def kv_cache_bytes(config, seq_len, batch, dtype):
    """Memory of a full KV cache: ``2 * n_layer * batch * n_kv_heads * seq_len * head_dim *
    itemsize`` bytes (exercise 4.6).

    Every layer caches one key and one value vector (the 2) per kv head, token and sequence;
    ``head_dim = n_embd / n_head`` (the query heads fix the width, GQA only has fewer kv heads).

    Args:
        config: a ``GPTConfig`` (whose ``n_kv_heads`` is ``n_head``: GPT-2 is MHA), or a dict
            or object with ``n_layer``, ``n_head``, ``n_embd`` and optionally ``n_kv_heads``
            (missing or None means ``n_head``). Read it with ``config_value``.
        seq_len: cached tokens per sequence (int >= 0).
        batch: sequences in the batch (int >= 0).
        dtype: dtype of the cached keys and values: anything ``np.dtype`` accepts, or
            ``"bfloat16"`` (see ``dtype_itemsize``).

    Returns:
        The size in bytes, an ``int``.

    Raises:
        ValueError: if a size is not a positive integer (``seq_len`` and ``batch`` may be 0),
            ``n_head`` does not divide ``n_embd``, or ``n_kv_heads`` does not divide ``n_head``.
    """
    sizes = {name: config_value(config, name) for name in ("n_layer", "n_head", "n_embd")}
    sizes["n_kv_heads"] = config_value(config, "n_kv_heads", sizes["n_head"])
    for name, value in [*sizes.items(), ("seq_len", seq_len), ("batch", batch)]:
        smallest = 0 if name in ("seq_len", "batch") else 1
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < smallest:
            raise ValueError(f"kv_cache_bytes: {name} must be an integer >= {smallest}, "
                             f"got {value!r}")
    if sizes["n_embd"] % sizes["n_head"] or sizes["n_head"] % sizes["n_kv_heads"]:
        raise ValueError(f"kv_cache_bytes: need n_head | n_embd and n_kv_heads | n_head, got "
                         f"n_embd={sizes['n_embd']}, n_head={sizes['n_head']}, "
                         f"n_kv_heads={sizes['n_kv_heads']}")
    raise NotImplementedError(
        "Exercise 4.6 (kv_cache_bytes) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#7-grouped-query-attention"
    )
