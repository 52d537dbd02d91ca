"""Multi-head attention, forward and backward (exercises 1.7 and 1.8)."""

import numpy as np

from .attention import scaled_dot_product_attention, scaled_dot_product_attention_backward
from .heads import merge_heads, split_heads

PARAM_NAMES = ("W_q", "b_q", "W_k", "b_k", "W_v", "b_v", "W_o", "b_o")


def init_mha_params(d_model, rng, dtype=np.float64, std=0.02):
    """Random multi-head attention parameters (given, not an exercise).

    Weights ``W_q W_k W_v W_o`` are ``(d_model, d_model)`` drawn from N(0, std^2) in that
    order (GPT-2's init uses std 0.02); biases ``b_q b_k b_v b_o`` are ``(d_model,)`` zeros.

    Args:
        d_model: C, the model width.
        rng: a ``np.random.Generator`` (the only source of randomness).
        dtype: dtype of every array.
        std: standard deviation of the weights.

    Returns:
        dict with the keys ``W_q W_k W_v W_o b_q b_k b_v b_o``.
    """
    params = {}
    for name in ("q", "k", "v", "o"):
        params[f"W_{name}"] = (std * rng.standard_normal((d_model, d_model))).astype(dtype)
        params[f"b_{name}"] = np.zeros(d_model, dtype=dtype)
    return params


def _check_mha_inputs(x_q, x_kv, params, n_heads):
    """Raise a clear error if the inputs of multi_head_attention do not fit (given)."""
    if x_q.ndim != 3 or x_kv.ndim != 3:
        raise ValueError(
            f"multi_head_attention: x_q and x_kv must be (B, T, C), got {x_q.shape}, {x_kv.shape}"
        )
    (B, _, C), (B_kv, _, C_kv) = x_q.shape, x_kv.shape
    if B != B_kv or C != C_kv:
        raise ValueError(
            f"multi_head_attention: x_q {x_q.shape} and x_kv {x_kv.shape} must share B and C"
        )
    if n_heads < 1 or C % n_heads != 0:
        raise ValueError(f"multi_head_attention: C = {C} is not divisible by n_heads = {n_heads}")
    for name in PARAM_NAMES:
        if name not in params:
            raise ValueError(f"multi_head_attention: params is missing {name!r}")
        expected = (C, C) if name.startswith("W") else (C,)
        if params[name].shape != expected:
            raise ValueError(
                f"multi_head_attention: params[{name!r}] has shape {params[name].shape}, "
                f"expected {expected}"
            )


def multi_head_attention(x_q, x_kv, params, n_heads, mask=None):
    """Multi-head (self- or cross-) attention (exercise 1.7).

        Q = x_q W_q + b_q,  K = x_kv W_k + b_k,  V = x_kv W_v + b_v     (B, T, C)
        head h = attention(Q_h, K_h, V_h), Q_h = columns h*D:(h+1)*D    (B, H, T_q, D)
        out = merge(heads) W_o + b_o                                    (B, T_q, C)

    Self-attention is ``multi_head_attention(x, x, ...)``; cross-attention passes the
    encoder output as ``x_kv``.

    Args:
        x_q: ``(B, T_q, C)``, the sequence that asks (queries).
        x_kv: ``(B, T_k, C)``, the sequence attended to (keys and values).
        params: dict with ``W_q W_k W_v W_o`` ``(C, C)`` and ``b_q b_k b_v b_o`` ``(C,)``;
            ``y = x @ W + b`` (see ``init_mha_params``).
        n_heads: H, a divisor of C; each head has width D = C / H.
        mask: optional boolean array broadcastable to ``(B, H, T_q, T_k)``, True = may
            attend: e.g. ``causal_mask(T_q, T_k)`` of shape ``(T_q, T_k)``, or
            ``padding_mask(lengths, T_k)[:, None, None, :]`` of shape ``(B, 1, 1, T_k)``
            (a bare ``(B, T_k)`` padding mask would line up B with T_q: add the axes).

    Returns:
        out: ``(B, T_q, C)``, the inputs' dtype (float32 in -> float32 out).
        cache: dict for the backward pass. ``cache["weights"]`` holds the attention weights
            of every head, ``(B, H, T_q, T_k)``; the other entries are yours to choose.

    Raises:
        ValueError: if shapes do not fit, a parameter is missing, or ``C % n_heads != 0``.
    """
    _check_mha_inputs(x_q, x_kv, params, n_heads)
    raise NotImplementedError(
        "Exercise 1.7 (multi_head_attention) is not implemented yet; "
        "see lectures/01_self_attention/theory.md#6-multi-head-attention"
    )


def multi_head_attention_backward(dout, cache):
    """Gradients of multi-head attention (exercise 1.8).

    Args:
        dout: dL/d(out), ``(B, T_q, C)``.
        cache: the cache returned by ``multi_head_attention``.

    Returns:
        (dx_q, dx_kv, dparams): ``dx_q`` ``(B, T_q, C)``, ``dx_kv`` ``(B, T_k, C)`` and a dict
        with the same keys and shapes as ``params``; the inputs' dtype. For self-attention
        (``x_kv is x_q``) the gradient of x is ``dx_q + dx_kv``: the caller adds them.
    """
    raise NotImplementedError(
        "Exercise 1.8 (multi_head_attention_backward) is not implemented yet; "
        "see lectures/01_self_attention/theory.md#7-the-backward-pass-of-multi-head-attention"
    )
