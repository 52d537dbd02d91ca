"""Context extension for RoPE: position interpolation and NTK-aware scaling (exercise 2.6).

A model trained on contexts of length L has only seen RoPE angles ``p * inv_freq_i`` with
``p < L``. To run it on ``s * L`` tokens, either squeeze the positions back into the trained
range (linear position interpolation, Chen et al. 2023) or raise the base so that the slow,
position-carrying pairs are interpolated while the fast, local pairs are left almost alone
(NTK-aware scaling, bloc97 2023). ``rope_cos_sin(..., scaling=...)`` calls ``rope_scaling``.
"""

from collections.abc import Mapping

import numpy as np

SCALING_TYPES = ("linear", "ntk")


def _parse_scaling(scaling, head_dim):
    """``(type, factor)`` from a scaling dict, or a clear ValueError (given, not an exercise)."""
    if not isinstance(scaling, Mapping):
        raise ValueError(
            f"rope_scaling: scaling must be a dict like {{'type': 'linear', 'factor': 4.0}}, "
            f"got {scaling!r}"
        )
    kinds = {scaling[key] for key in ("type", "rope_type") if key in scaling}
    if len(kinds) != 1:
        raise ValueError(
            "rope_scaling: scaling needs exactly one of 'type' or 'rope_type' (or both, "
            f"equal), got {dict(scaling)!r}"
        )
    (kind,) = kinds
    if kind not in SCALING_TYPES:
        raise ValueError(f"rope_scaling: unknown type {kind!r}; known types: {SCALING_TYPES}")
    if "factor" not in scaling:
        raise ValueError(f"rope_scaling: scaling needs a 'factor', got {dict(scaling)!r}")
    factor = float(scaling["factor"])
    if not factor >= 1.0:  # also rejects NaN
        raise ValueError(
            f"rope_scaling: factor must be >= 1 (it extends the context), got {factor}"
        )
    if kind == "ntk" and head_dim <= 2:
        raise ValueError(f"rope_scaling: NTK scaling needs head_dim > 2, got {head_dim}")
    return kind, factor


def rope_scaling(positions, head_dim, base, scaling):
    """Adjust RoPE's positions or base to extend the context by a factor s (exercise 2.6).

    ``scaling`` is a dict ``{"type": ..., "factor": s}`` with ``s >= 1``; ``"rope_type"`` is
    accepted as an alias of ``"type"`` (the key of Hugging Face configs), and other keys
    (e.g. ``"rope_theta"``) are ignored:

    * ``"linear"`` -- position interpolation (Chen et al. 2023): ``(positions / s, base)``.
      Position ``s * L`` now gets the angles position ``L`` had in training. (Hugging Face's
      ``"linear"`` divides ``inv_freq`` by s instead: the same angles.)
    * ``"ntk"`` -- NTK-aware base scaling (bloc97 2023):
      ``(positions, base * s ** (head_dim / (head_dim - 2)))``: the slowest pair turns s
      times slower, like interpolation, and the fastest is unchanged (lecture, §8.3).
      Hugging Face's ``"dynamic"`` type applies this formula with a factor that grows with
      the current sequence length.

    Args:
        positions: 1-D array-like ``(T,)`` of positions (ints or floats); not modified.
        head_dim: the per-head width D (even; > 2 for ``"ntk"``).
        base: RoPE's base (theta), a positive float.
        scaling: the dict described above.

    Returns:
        (positions, base): a new float64 array ``(T,)`` and a Python float, to build the
        tables from.

    Raises:
        ValueError: if ``scaling`` is not such a dict, its type is unknown or missing (or
            ``type`` and ``rope_type`` disagree), its factor is missing or below 1, or
            NTK scaling is asked of ``head_dim <= 2``.
    """
    kind, factor = _parse_scaling(scaling, head_dim)
    positions = np.array(positions, dtype=np.float64)  # a float64 copy: the input is untouched
    base = float(base)
    raise NotImplementedError(
        "Exercise 2.6 (rope_scaling) is not implemented yet; "
        "see lectures/02_positional_encoding/theory.md#8-extrapolation-and-context-extension"
    )
