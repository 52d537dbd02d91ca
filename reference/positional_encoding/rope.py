"""Rotary position embedding (RoPE), half-split layout as in Hugging Face LLaMA (exercise 2.3).

RoPE rotates each pair of dimensions of a query or key by an angle proportional to the
token's position, so that ``<rope(q, m), rope(k, n)>`` depends on m and n only through
``n - m``. This file uses the *half-split* ("rotate_half") layout of Hugging Face's LLaMA,
Mistral, Qwen, ...: dimension ``i`` is paired with dimension ``i + head_dim/2``. The other
layout, adjacent pairs ``(2i, 2i+1)``, is exercise 2.4 (``rope_interleaved.py``).

``rotate_half`` is given (it is not an exercise): the exercise is building the tables in the
matching layout, applying the rotation, and its backward pass.
"""

import numpy as np


def rotate_half(x):
    """``[-x2, x1]`` where x1, x2 are the two halves of the last axis (given, not an exercise).

    Hugging Face's ``rotate_half``. For each pair ``(a, b) = (x[i], x[i + D/2])`` it gives
    ``(-b, a)``: the pair rotated by +90 degrees (what it is for: lecture, §5.5).

    Args:
        x: ``(..., D)`` with D even.

    Returns:
        ``(..., D)``, same dtype, a new array.
    """
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def _check_rope_inputs(x, cos, sin, where):
    """Raise a clear error if x, cos and sin do not fit together (given, not an exercise)."""
    if x.ndim < 2:
        raise ValueError(f"{where}: x must be (..., T, head_dim), got shape {x.shape}")
    if x.shape[-1] % 2:
        raise ValueError(f"{where}: head_dim must be even, got x of shape {x.shape}")
    if np.shape(cos) != np.shape(sin):
        raise ValueError(
            f"{where}: cos and sin must have the same shape, got {np.shape(cos)} and "
            f"{np.shape(sin)}"
        )
    try:
        shape = np.broadcast_shapes(x.shape, np.shape(cos))
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(
            f"{where}: cos/sin of shape {np.shape(cos)} do not fit x of shape {x.shape}; "
            f"expected (T, head_dim) = {x.shape[-2:]} (from rope_cos_sin(positions, "
            f"{x.shape[-1]}) with {x.shape[-2]} positions)"
        )


def rope_cos_sin(positions, head_dim, base=10000.0, scaling=None):
    """The cos and sin tables of RoPE, half-split layout (exercise 2.3; ``scaling``: 2.6).

    Exactly Hugging Face's ``LlamaRotaryEmbedding``, computed in float64 (lecture, Sections
    5.4-5.5). Pair i (dims ``i`` and ``i + head_dim/2``, ``i < head_dim/2``) turns by
    ``theta_i = base ** (-2i / head_dim)`` radians per position, so both halves of each row
    hold the same angles: ``cos[t, i] == cos[t, i + head_dim/2] == cos(positions[t] *
    theta_i)``, and likewise for ``sin``.

    Args:
        positions: 1-D array-like ``(T,)`` of positions, ints or floats (need not be
            ``0..T-1``: gaps, offsets for a KV cache, or fractional positions are fine).
        head_dim: the per-head width D, even and >= 2.
        base: RoPE's ``theta`` (10000 in RoFormer and LLaMA 1/2, 500000 in LLaMA 3).
        scaling: ``None``, or a context-extension dict for ``rope_scaling`` (exercise 2.6),
            e.g. ``{"type": "linear", "factor": 4}``; it changes ``positions`` and/or
            ``base`` before the tables are built.

    Returns:
        (cos, sin): each ``(T, head_dim)`` float64.

    Raises:
        ValueError: if ``positions`` is not 1-D or ``head_dim`` is odd or < 2.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 1:
        raise ValueError(f"rope_cos_sin: positions must be 1-D (T,), got shape {positions.shape}")
    if head_dim < 2 or head_dim % 2:
        raise ValueError(f"rope_cos_sin: head_dim must be even and >= 2, got {head_dim}")
    if scaling is not None:
        from .rope_scaling import rope_scaling  # lazy: an unfinished 2.6 costs only 2.6

        positions, base = rope_scaling(positions, head_dim, base, scaling)
    ### BEGIN SOLUTION
    inv_freq = 1.0 / base ** (np.arange(0, head_dim, 2) / head_dim)  # (D/2,)
    freqs = positions[:, None] * inv_freq[None, :]  # (T, 1) * (1, D/2) -> (T, D/2)
    emb = np.concatenate([freqs, freqs], axis=-1)  # (T, D): dims i and i + D/2 share an angle
    return np.cos(emb), np.sin(emb)
    ### END SOLUTION


def apply_rope(x, cos, sin):
    """Rotate queries or keys by their positions' angles, half-split layout (exercise 2.3).

    As Hugging Face's ``apply_rotary_pos_emb`` (lecture, §5.5): each pair
    ``(a, b) = (x[..., t, i], x[..., t, i + D/2])`` turns by its angle theta (``cos[t, i] =
    cos(theta)``, ``sin[t, i] = sin(theta)``) to ``(a cos(theta) - b sin(theta),
    a sin(theta) + b cos(theta))``. A rotation: the norm of every ``x[..., t, :]`` is kept.

    Args:
        x: ``(..., T, head_dim)``, e.g. per-head queries ``(B, H, T, D)``.
        cos, sin: ``(T, head_dim)`` tables from ``rope_cos_sin`` (row t is the position of
            ``x[..., t, :]``); any shape that broadcasts to ``x.shape`` also works, e.g.
            ``(B, 1, T, D)`` for per-sequence positions.

    Returns:
        ``(..., T, head_dim)`` in x's dtype (float32 x -> float32 out: the float64 tables
        are cast to x's dtype first); ``x`` is not modified.

    Raises:
        ValueError: if the shapes do not fit.
    """
    _check_rope_inputs(x, cos, sin, "apply_rope")
    ### BEGIN SOLUTION
    cos = np.asarray(cos).astype(x.dtype, copy=False)
    sin = np.asarray(sin).astype(x.dtype, copy=False)
    return x * cos + rotate_half(x) * sin
    ### END SOLUTION


def apply_rope_backward(dout, cos, sin):
    """Gradient of a loss through ``apply_rope`` with respect to x (exercise 2.3).

    Derived in the lecture, §5.6; exact for tables whose two halves are equal, as
    ``rope_cos_sin`` makes them.

    Args:
        dout: dL/d(out), ``(..., T, head_dim)``.
        cos, sin: the tables given to ``apply_rope``.

    Returns:
        dx: ``(..., T, head_dim)`` in dout's dtype. The tables get no gradient here
        (positions are not learned).

    Raises:
        ValueError: if the shapes do not fit.
    """
    _check_rope_inputs(dout, cos, sin, "apply_rope_backward")
    ### BEGIN SOLUTION
    cos = np.asarray(cos).astype(dout.dtype, copy=False)
    sin = np.asarray(sin).astype(dout.dtype, copy=False)
    return dout * cos - rotate_half(dout) * sin
    ### END SOLUTION
