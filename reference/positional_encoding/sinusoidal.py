"""Sinusoidal positional encoding of Vaswani et al. (exercise 2.1) and its shift matrix."""

import operator

import numpy as np


def _as_size(value, name, where):
    """``value`` as a Python int, or a TypeError naming it (given, not an exercise)."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{where}: {name} must be an integer, got {value!r}") from None


def sinusoidal_positional_encoding(t, d, base=10000.0, dtype=np.float64):
    """The fixed sinusoidal position encodings of "Attention Is All You Need" (exercise 2.1).

    Column pair (2i, 2i+1) is a sinusoid of angular frequency ``w_i = base ** (-2i / d)``::

        PE[p, 2i]     = sin(p * w_i)
        PE[p, 2i + 1] = cos(p * w_i)        for i = 0, 1, ..., ceil(d / 2) - 1

    so the first pair turns once every 2*pi positions and the last one about ``base`` times
    slower. Any ``d >= 1`` works: for odd ``d`` the last column is the sin of
    ``w_{(d-1)/2}`` alone (its cos partner would be column ``d``, which does not exist).
    Row ``p`` is added to the embedding of the token at position ``p``.

    Args:
        t: number of positions (int >= 0); rows are positions ``0 .. t-1``.
        d: model width (int >= 1); the number of columns.
        base: the wavelength scale (10000 in the paper); a positive float.
        dtype: dtype of the result. Compute in float64 and cast at the end, so that float32
            tables are the rounded float64 values.

    Returns:
        ``(t, d)`` array of ``dtype``; every entry is in [-1, 1], and ``PE[0]`` is
        ``[0, 1, 0, 1, ...]``.

    Raises:
        ValueError: if ``t < 0`` or ``d < 1``.
        TypeError: if ``t`` or ``d`` is not an integer.
    """
    t = _as_size(t, "t", "sinusoidal_positional_encoding")
    d = _as_size(d, "d", "sinusoidal_positional_encoding")
    if t < 0 or d < 1:
        raise ValueError(
            f"sinusoidal_positional_encoding: need t >= 0 and d >= 1, got t={t}, d={d}"
        )
    ### BEGIN SOLUTION
    positions = np.arange(t, dtype=np.float64)[:, None]  # (t, 1)
    w = base ** (-np.arange(0, d, 2) / d)  # (ceil(d/2),) frequencies w_i, exponent -2i/d
    angles = positions * w[None, :]  # (t, ceil(d/2))
    pe = np.empty((t, d), dtype=np.float64)
    pe[:, 0::2] = np.sin(angles)  # ceil(d/2) even columns
    pe[:, 1::2] = np.cos(angles[:, : d // 2])  # floor(d/2) odd columns
    return pe.astype(dtype, copy=False)
    ### END SOLUTION
