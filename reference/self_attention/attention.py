"""Scaled dot-product attention, forward and backward (exercises 1.4 and 1.5)."""

import math

import numpy as np

from .softmax import softmax, softmax_backward


def _check_attention_inputs(q, k, v, mask, name):
    """Raise a clear error if q, k, v and mask do not fit together (given, not an exercise)."""
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"{name}: q, k, v need at least 2 dims (..., T, D)")
    if not q.shape[:-2] == k.shape[:-2] == v.shape[:-2]:
        raise ValueError(
            f"{name}: q, k, v must have the same leading dims, got q {q.shape}, "
            f"k {k.shape}, v {v.shape}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{name}: q and k must have the same D, got {q.shape} and {k.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{name}: k and v must have the same T_k, got {k.shape} and {v.shape}")
    if mask is not None:
        if np.asarray(mask).dtype != bool:
            raise TypeError(f"{name}: mask must be boolean (True = may attend)")
        scores_shape = q.shape[:-1] + (k.shape[-2],)
        try:
            np.broadcast_shapes(np.shape(mask), scores_shape)
        except ValueError:
            raise ValueError(
                f"{name}: mask of shape {np.shape(mask)} does not broadcast to the scores "
                f"(..., T_q, T_k) = {scores_shape}"
            ) from None


def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(D)) v, with an optional boolean mask (exercise 1.4).

    Args:
        q: queries ``(..., T_q, D)``.
        k: keys ``(..., T_k, D)``; same leading dims ``...`` as ``q`` (no broadcasting).
        v: values ``(..., T_k, D_v)``; same leading dims.
        mask: optional boolean array broadcastable to ``(..., T_q, T_k)``, True = query i may
            attend to key j, e.g. ``causal_mask(T_q, T_k)`` or ``padding_mask(...)[:, None, :]``.
            Masked scores are set to ``-inf`` before the softmax. A query whose keys are all
            masked gets all-zero weights and a zero output (no NaN, no warning).

    Returns:
        out: ``(..., T_q, D_v)``, the dtype of the inputs (float32 in -> float32 out).
        cache: dict for the backward pass. ``cache["weights"]`` holds the attention weights
            ``(..., T_q, T_k)`` (rows sum to 1, or 0 when fully masked), e.g. for plotting;
            the other entries are yours to choose (what your backward needs).

    Raises:
        ValueError / TypeError: if the shapes do not fit or the mask is not boolean.
    """
    _check_attention_inputs(q, k, v, mask, "scaled_dot_product_attention")
    ### BEGIN SOLUTION
    scale = 1.0 / math.sqrt(q.shape[-1])  # a Python float, so float32 stays float32
    scores = q @ np.swapaxes(k, -1, -2)  # (..., T_q, D) @ (..., D, T_k)
    scores *= scale  # in place: scores is a new array
    if mask is not None:  # in place too (np.where would build a second (..., T_q, T_k) array)
        np.copyto(scores, -np.inf, where=np.logical_not(mask))  # exp(-inf) = 0: no weight
    weights = softmax(scores, axis=-1)  # (..., T_q, T_k)
    out = weights @ v  # (..., T_q, T_k) @ (..., T_k, D_v) -> (..., T_q, D_v)
    cache = {"q": q, "k": k, "v": v, "weights": weights, "scale": scale}
    return out, cache
    ### END SOLUTION


def scaled_dot_product_attention_backward(dout, cache):
    """Gradients of scaled dot-product attention (exercise 1.5).

    Args:
        dout: dL/d(out), shape ``(..., T_q, D_v)``.
        cache: the cache returned by ``scaled_dot_product_attention``.

    Returns:
        (dq, dk, dv): gradients with exactly the shapes of ``q (..., T_q, D)``,
        ``k (..., T_k, D)`` and ``v (..., T_k, D_v)`` (also when the mask broadcast), in the
        inputs' dtype. Masked (query, key) pairs contribute no gradient; a fully masked query
        gets ``dq = 0``. The mask itself has no gradient.
    """
    ### BEGIN SOLUTION
    q, k, v, weights, scale = (cache[name] for name in ("q", "k", "v", "weights", "scale"))
    dv = np.swapaxes(weights, -1, -2) @ dout  # (..., T_k, T_q) @ (..., T_q, D_v)
    dweights = dout @ np.swapaxes(v, -1, -2)  # (..., T_q, D_v) @ (..., D_v, T_k)
    # Masked weights are exactly 0, so softmax_backward already gives them zero gradient.
    dscores = softmax_backward(dweights, weights, axis=-1)  # (..., T_q, T_k)
    dscores *= scale  # in place: dscores is a new array
    dq = dscores @ k  # (..., T_q, T_k) @ (..., T_k, D)
    dk = np.swapaxes(dscores, -1, -2) @ q  # (..., T_k, T_q) @ (..., T_q, D)
    return dq, dk, dv
    ### END SOLUTION
