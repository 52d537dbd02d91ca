"""Attention with an online (streaming) softmax over key blocks (exercise 1.9)."""

import math
import numbers

import numpy as np

from .attention import _check_attention_inputs


def online_softmax_attention(q, k, v, mask=None, block_size=64, causal=False):
    """Scaled dot-product attention computed block by block over the keys (exercise 1.9).

    The keys and values are visited in blocks of ``block_size`` (the last block may be
    shorter), with FlashAttention's online-softmax recurrence (lecture, §9.2–9.4).
    The full ``(T_q, T_k)`` score matrix is never built: peak extra memory is
    O(T_q * block_size) per batch element, plus the ``(..., T_q, D_v)`` output.

    Args:
        q: queries ``(..., T_q, D)``.
        k: keys ``(..., T_k, D)``; same leading dims as ``q``.
        v: values ``(..., T_k, D_v)``; same leading dims.
        mask: optional boolean array broadcastable to ``(..., T_q, T_k)``, True = may attend
            (as in ``scaled_dot_product_attention``); it is used one block of keys at a time,
            never copied to the full ``(..., T_q, T_k)`` shape.
        block_size: number of keys per block, an int >= 1.
        causal: if True, also apply the bottom-right-aligned causal mask of
            ``causal_mask(T_q, T_k)``, built one block at a time (combined with ``mask`` by AND).

    Returns:
        out: ``(..., T_q, D_v)``, equal to ``scaled_dot_product_attention(q, k, v, mask)[0]`` up
        to floating-point rounding, in the inputs' dtype. Queries with every key masked give
        zeros (no NaN, no warning), also while their first blocks are fully masked.

    Raises:
        ValueError: if ``block_size < 1`` or the shapes do not fit; TypeError if the mask is
            not boolean or ``block_size`` is not an int.
    """
    if not isinstance(block_size, numbers.Integral):
        raise TypeError(f"online_softmax_attention: block_size must be an int, got {block_size!r}")
    if block_size < 1:
        raise ValueError(f"online_softmax_attention: block_size must be >= 1, got {block_size}")
    _check_attention_inputs(q, k, v, mask, "online_softmax_attention")
    raise NotImplementedError(
        "Exercise 1.9 (online_softmax_attention) is not implemented yet; "
        "see lectures/01_self_attention/theory.md#9-online-softmax-and-flashattentions-recurrence"
    )
