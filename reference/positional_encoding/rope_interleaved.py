"""RoPE with adjacent pairs (2i, 2i+1): RoFormer, GPT-J, Meta's original LLaMA (exercise 2.4).

Both layouts rotate D/2 pairs by the same angles; they only disagree on *which* dimensions
form a pair. With the permutation P that moves the even dimensions first,
``(P x) = concatenate([x[..., 0::2], x[..., 1::2]])``, pair i = dims (2i, 2i+1) of x becomes
dims (i, i + D/2) of P x, so

    apply_rope_interleaved(x, cos, sin) == P^T apply_rope(P x, cos, sin)

Hugging Face's LLaMA conversion script applies exactly this P to the rows of every head of
Meta's W_q and W_k: the converted checkpoint with the half-split code gives the same attention
scores as Meta's checkpoint with the interleaved code (the parity tests check this).
"""

import numpy as np


def _check_inputs(x, cos, sin, where):
    """Raise a clear error if x, cos and sin do not fit together (given, not an exercise).

    (The same checks as in rope.py, repeated so that this file does not import rope.py:
    an unfinished 2.3 must not cost 2.4.)
    """
    if x.ndim < 2 or x.shape[-1] % 2:
        raise ValueError(f"{where}: x must be (..., T, head_dim), head_dim even; got {x.shape}")
    try:
        fits = (
            np.shape(cos) == np.shape(sin)
            and np.broadcast_shapes(x.shape, np.shape(cos)) == x.shape
        )
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{where}: cos and sin must both be (T, head_dim) = {x.shape[-2:]} (or broadcast "
            f"to x's shape {x.shape}), got {np.shape(cos)} and {np.shape(sin)}"
        )


def interleave_permutation(head_dim):
    """Indices ``perm`` of P: ``x[..., perm]`` is ``P x`` (even dims first) (given).

    ``y[..., np.argsort(perm)]`` is ``P^T y``. For head_dim 6: ``[0, 2, 4, 1, 3, 5]``.
    """
    if head_dim < 2 or head_dim % 2:
        raise ValueError(f"interleave_permutation: head_dim must be even and >= 2, got {head_dim}")
    return np.concatenate([np.arange(0, head_dim, 2), np.arange(1, head_dim, 2)])


def apply_rope_interleaved(x, cos, sin):
    """RoPE on adjacent pairs ``(2i, 2i+1)``, with the half-split tables (exercise 2.4).

    Takes the same ``(cos, sin)`` tables as ``apply_rope`` (from ``rope_cos_sin``, shape
    ``(T, head_dim)``, both halves equal) and uses their first half as the angle of pair i::

        c_i, s_i = cos[..., i], sin[..., i]                  for i < head_dim / 2
        out[..., 2i]     = x[..., 2i] * c_i - x[..., 2i+1] * s_i
        out[..., 2i + 1] = x[..., 2i] * s_i + x[..., 2i+1] * c_i

    This is Meta's original ``apply_rotary_emb`` and GPT-J's ``rotate_every_two`` (lecture,
    §6.1–6.3).

    Args:
        x: ``(..., T, head_dim)``.
        cos, sin: ``(T, head_dim)`` half-split tables from ``rope_cos_sin``, or any shape
            that broadcasts to ``x.shape``.

    Returns:
        ``(..., T, head_dim)`` in x's dtype (float32 x -> float32 out); ``x`` is not
        modified. Norms of ``x[..., t, :]`` are preserved.

    Raises:
        ValueError: if the shapes do not fit.
    """
    _check_inputs(x, cos, sin, "apply_rope_interleaved")
    ### BEGIN SOLUTION
    half = x.shape[-1] // 2
    c = np.asarray(cos)[..., :half].astype(x.dtype, copy=False)  # (T, D/2): angle of pair i
    s = np.asarray(sin)[..., :half].astype(x.dtype, copy=False)
    a, b = x[..., 0::2], x[..., 1::2]  # (..., T, D/2) each: the two members of pair i
    rotated = np.stack([a * c - b * s, a * s + b * c], axis=-1)  # (..., T, D/2, 2)
    return rotated.reshape(rotated.shape[:-2] + (2 * half,))  # interleave back: (..., T, D)
    ### END SOLUTION
