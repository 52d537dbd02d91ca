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
    ### BEGIN SOLUTION
    *batch, t_q, d = q.shape
    t_k, d_v = v.shape[-2:]
    scale = 1.0 / math.sqrt(d)  # a Python float, so float32 stays float32
    dtype = np.result_type(q, k, v)
    if mask is not None:
        mask = np.broadcast_to(mask, (*batch, t_q, t_k))  # a view: nothing T_q x T_k is stored
    last_key = np.arange(t_q)[:, None] + (t_k - t_q)  # (T_q, 1): query i sees keys j <= last_key

    m = np.full((*batch, t_q, 1), -np.inf, dtype)  # running max of the scores
    l = np.zeros((*batch, t_q, 1), dtype)  # running sum of exp(s - m)
    acc = np.zeros((*batch, t_q, d_v), dtype)  # running sum of exp(s - m) v
    for start in range(0, t_k, block_size):
        stop = min(start + block_size, t_k)
        s = (q @ np.swapaxes(k[..., start:stop, :], -1, -2)) * scale  # (..., T_q, Bk)
        keep = None if mask is None else mask[..., start:stop]
        if causal:
            block_causal = np.arange(start, stop)[None, :] <= last_key  # (T_q, Bk)
            keep = block_causal if keep is None else keep & block_causal
        if keep is not None:
            s = np.where(keep, s, -np.inf)

        m_new = np.maximum(m, s.max(axis=-1, keepdims=True))  # (..., T_q, 1)
        # Rows that have seen no unmasked key yet still have m_new = -inf; shifting them by 0
        # avoids (-inf) - (-inf) = NaN. Their l and acc stay 0 because exp(-inf) = 0.
        m_new_safe = np.where(np.isneginf(m_new), 0, m_new)
        rescale = np.exp(m - m_new_safe)  # exp(m_old - m_new): 0 while m_old is -inf
        p = np.exp(s - m_new_safe)  # (..., T_q, Bk), unnormalised block weights
        l = rescale * l + p.sum(axis=-1, keepdims=True)
        acc = rescale * acc + p @ v[..., start:stop, :]  # (..., T_q, Bk) @ (..., Bk, D_v)
        m = m_new
    # Fully masked rows have l = 0 and acc = 0: divide by 1 to return zeros.
    return acc / np.where(l == 0, 1, l)
    ### END SOLUTION
