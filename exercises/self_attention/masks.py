"""Boolean attention masks (exercise 1.3). Convention: True = may attend."""

import numpy as np


def causal_mask(t_q, t_k=None):
    """Causal (look-ahead) mask, bottom-right aligned (exercise 1.3).

    Query i may attend to key j iff ``j <= i + (t_k - t_q)``: the last query is aligned with
    the last key. With ``t_q == t_k`` this is the usual lower triangle; with fewer queries than
    keys (decoding with a KV cache) the queries are the *last* ``t_q`` positions and see all
    earlier keys. With more queries than keys, the first ``t_q - t_k`` rows are all False
    (fully masked; attention then gives zeros for them).

        causal_mask(3)       causal_mask(2, 4)
        [[1, 0, 0],          [[1, 1, 1, 0],
         [1, 1, 0],           [1, 1, 1, 1]]
         [1, 1, 1]]

    Args:
        t_q: number of queries (int >= 0).
        t_k: number of keys (int >= 0); defaults to ``t_q``.

    Returns:
        Boolean array of shape ``(t_q, t_k)``; it broadcasts against scores
        ``(..., t_q, t_k)`` as it is.

    Raises:
        ValueError: if ``t_q`` or ``t_k`` is negative.
    """
    if t_k is None:
        t_k = t_q
    if t_q < 0 or t_k < 0:
        raise ValueError(f"causal_mask: sizes must be >= 0, got t_q={t_q}, t_k={t_k}")
    raise NotImplementedError(
        "Exercise 1.3 (causal_mask) is not implemented yet; "
        "see lectures/01_self_attention/theory.md#3-masks"
    )


def padding_mask(lengths, t):
    """Key padding mask for a batch of right-padded sequences (exercise 1.3).

    ``mask[b, j] = j < lengths[b]``: key j of sequence b is a real token (True) or padding
    (False). This is PyTorch's ``key_padding_mask`` with the opposite polarity (there, True
    means *ignore*). Add the missing axes to broadcast it against scores:
    ``mask[:, None, :]`` against ``(B, T_q, T_k)``, ``mask[:, None, None, :]`` against
    ``(B, H, T_q, T_k)``.

    Args:
        lengths: integer array-like of shape ``(B,)``, each ``0 <= lengths[b] <= t``.
        t: the padded length (int >= 0).

    Returns:
        Boolean array of shape ``(B, t)``.

    Raises:
        ValueError: if ``t`` is negative, ``lengths`` is not 1-D, or a length is negative or
            greater than ``t``.
    """
    if t < 0:
        raise ValueError(f"padding_mask: t must be >= 0, got {t}")
    lengths = np.asarray(lengths)
    if lengths.ndim != 1:
        raise ValueError(f"padding_mask: lengths must be 1-D (B,), got shape {lengths.shape}")
    if np.any(lengths < 0) or np.any(lengths > t):
        raise ValueError(f"padding_mask: every length must be in [0, {t}], got {lengths}")
    raise NotImplementedError(
        "Exercise 1.3 (padding_mask) is not implemented yet; "
        "see lectures/01_self_attention/theory.md#3-masks"
    )
