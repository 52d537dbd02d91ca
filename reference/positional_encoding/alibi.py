"""ALiBi: attention with linear biases (Press et al. 2022), as in BLOOM and MPT (exercise 2.5).

No position is added to the embeddings. Instead each head h adds ``-slope_h * distance`` to
its attention scores, so far-away keys are penalised linearly, with a different slope (a
different "reach") per head.
"""

import operator

import numpy as np


def alibi_slopes(n_heads):
    """The per-head ALiBi slopes of Press et al. / BLOOM (exercise 2.5).

    For n a power of two the slopes are a geometric sequence starting at and with ratio
    ``2 ** (-8 / n)``::

        slopes[h] = 2 ** (-8 * (h + 1) / n)        for h = 0 .. n-1

    (8 heads: 1/2, 1/4, ..., 1/256). Otherwise, with ``m = 2 ** floor(log2(n))`` the largest
    power of two below n, take the m slopes for m heads, then every other slope of the
    sequence for 2m heads, starting with its first, until there are n; concatenated, not
    sorted (lecture, §7.2; the authors' code and BLOOM's ``build_alibi_tensor``).

    Args:
        n_heads: number of heads (int >= 1).

    Returns:
        ``(n_heads,)`` float64, every slope in (0, 1).

    Raises:
        ValueError: if ``n_heads < 1``.
    """
    n_heads = operator.index(n_heads)
    if n_heads < 1:
        raise ValueError(f"alibi_slopes: n_heads must be >= 1, got {n_heads}")

    ### BEGIN SOLUTION
    def power_of_two_slopes(n):  # 2 ** (-8 h / n) for h = 1 .. n
        return 2.0 ** (-8.0 * np.arange(1, n + 1) / n)

    m = 1 << (n_heads.bit_length() - 1)  # largest power of two <= n_heads, exactly
    extra = power_of_two_slopes(2 * m)[0::2][: n_heads - m]  # empty when n_heads == m
    return np.concatenate([power_of_two_slopes(m), extra])
    ### END SOLUTION


def alibi_bias(n_heads, t_q, t_k):
    """The ALiBi bias added to attention scores, bottom-right aligned (exercise 2.5).

    ``bias[h, i, j] = -slopes[h] * ((i + t_k - t_q) - j)``: query i sits at absolute
    position ``i + t_k - t_q`` (the last query is the newest token, aligned with the last
    key, as in ``causal_mask(t_q, t_k)``), so the bias is minus the slope times how far
    back key j is. With ``t_q == t_k`` this is ``-slope * (i - j)``.

    Entries for future keys (``j > i + t_k - t_q``) are *positive*: ALiBi is meant for
    causal attention and those entries must be removed by the causal mask, e.g.
    ``scores + alibi_bias(H, t_q, t_k)`` then ``causal_mask(t_q, t_k)``.

    Args:
        n_heads: number of heads (int >= 1); slopes from ``alibi_slopes``.
        t_q: number of queries (int >= 0).
        t_k: number of keys (int >= 0).

    Returns:
        ``(n_heads, t_q, t_k)`` float64; broadcasts against scores ``(B, H, T_q, T_k)``.

    Raises:
        ValueError: if ``n_heads < 1`` or ``t_q``, ``t_k`` is negative.
    """
    if n_heads < 1:
        raise ValueError(f"alibi_bias: n_heads must be >= 1, got {n_heads}")
    if t_q < 0 or t_k < 0:
        raise ValueError(f"alibi_bias: sizes must be >= 0, got t_q={t_q}, t_k={t_k}")
    ### BEGIN SOLUTION
    slopes = alibi_slopes(n_heads)  # (H,)
    i = np.arange(t_q)[:, None] + (t_k - t_q)  # (t_q, 1) absolute query positions
    j = np.arange(t_k)[None, :]  # (1, t_k) key positions
    return slopes[:, None, None] * (j - i)[None, :, :]  # -slope * (i - j): (H, t_q, t_k)
    ### END SOLUTION
