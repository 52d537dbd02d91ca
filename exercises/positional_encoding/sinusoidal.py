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
    raise NotImplementedError(
        "Exercise 2.1 (sinusoidal_positional_encoding) is not implemented yet; "
        "see lectures/02_positional_encoding/theory.md#3-sinusoidal-encodings-and-the-linear-shift-property"
    )


def sinusoidal_shift_matrix(k, d, base=10000.0):
    """The matrix M_k with ``PE[p + k] = M_k @ PE[p]`` for every position p (given).

    Shifting by k positions adds ``k * w_i`` to every angle, and by the addition theorems

        sin((p+k) w) =  cos(k w) sin(p w) + sin(k w) cos(p w)
        cos((p+k) w) = -sin(k w) sin(p w) + cos(k w) cos(p w)

    so M_k is block diagonal with one 2x2 rotation ``[[c, s], [-s, c]]`` (``c = cos(k w_i)``,
    ``s = sin(k w_i)``) per column pair. It does not depend on p: a relative offset is a
    linear map of the encodings, which is why Vaswani et al. hoped attention could learn to
    use relative positions. (Not an exercise; the demo and the lecture use it.)

    Args:
        k: the offset (any real number; negative shifts backwards).
        d: the encoding width, even (for odd d the last column has no cos partner).
        base: as in ``sinusoidal_positional_encoding``.

    Returns:
        ``(d, d)`` float64 orthogonal matrix.

    Raises:
        ValueError: if ``d`` is odd or < 2.
    """
    d = _as_size(d, "d", "sinusoidal_shift_matrix")
    if d < 2 or d % 2:
        raise ValueError(f"sinusoidal_shift_matrix: d must be even and >= 2, got {d}")
    w = base ** (-np.arange(0, d, 2) / d)  # (d/2,)
    c, s = np.cos(k * w), np.sin(k * w)
    m = np.zeros((d, d))
    i = np.arange(0, d, 2)
    m[i, i], m[i, i + 1] = c, s  # new sin = c sin + s cos
    m[i + 1, i], m[i + 1, i + 1] = -s, c  # new cos = -s sin + c cos
    return m
