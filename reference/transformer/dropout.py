"""Inverted dropout, forward and backward (exercise 3.5)."""

import numpy as np


def _check_dropout_inputs(p, rng, train):
    """Raise a clear error for a bad rate or a missing generator (given, not an exercise)."""
    if not 0.0 <= p <= 1.0:  # also rejects NaN
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    if train and 0.0 < p < 1.0 and not isinstance(rng, np.random.Generator):
        raise TypeError(
            "dropout: training with 0 < p < 1 needs an np.random.Generator "
            f"(e.g. np.random.default_rng(0)), got {type(rng).__name__}"
        )


def dropout(x, p, rng, train=True):
    """Inverted dropout: zero entries with probability p, scale the others up (exercise 3.5).

    Scaling at training time keeps ``E[out] = x``, so inference is the identity (no rescale).
    The mask comes from exactly one draw, so results are reproducible from the generator::

        keep = rng.random(x.shape) >= p     # float64 uniforms in [0, 1), whatever x's dtype
        out  = x * keep / (1 - p)           # computed as x * keep * scale, scale = 1 / (1 - p)

    Special cases, none of which touches the generator: ``train=False`` or ``p == 0`` -> the
    identity (a copy of x); ``p == 1`` -> all zeros. PyTorch draws its masks differently, so
    only the statistics (and this formula) can be compared with ``F.dropout``.

    Args:
        x: array of any shape, floating dtype.
        p: the probability of dropping an entry, in [0, 1].
        rng: a ``np.random.Generator``; only used (one ``rng.random(x.shape)`` call) when
            ``train`` and ``0 < p < 1``, and may be None otherwise.
        train: False at inference.

    Returns:
        out: a new array with the shape and dtype of x (float32 in -> float32 out), also for
            the identity, so writing into it never changes x.
        cache: dict for ``dropout_backward``: ``"mask"``, the boolean keep-mask (None for the
            identity), and ``"scale"``, the factor applied to kept entries (1/(1-p); 1.0 for
            the identity; 0.0 when p == 1).

    Raises:
        ValueError: if p is outside [0, 1].
        TypeError: if a draw is needed and rng is not an ``np.random.Generator``.
    """
    _check_dropout_inputs(p, rng, train)
    ### BEGIN SOLUTION
    if not train or p == 0:
        return x.copy(), {"mask": None, "scale": 1.0}
    if p == 1:
        return np.zeros_like(x), {"mask": np.zeros(x.shape, dtype=bool), "scale": 0.0}
    mask = rng.random(x.shape) >= p  # True = keep, probability 1 - p
    scale = 1.0 / (1.0 - float(p))  # a Python float: float32 stays float32
    return x * mask * scale, {"mask": mask, "scale": scale}
    ### END SOLUTION


def dropout_backward(dout, cache):
    """Gradient of ``dropout`` (exercise 3.5): the forward's mask and scale (lecture 3, §6.2).

    Args:
        dout: dL/d(out), the shape of x.
        cache: the cache returned by ``dropout``.

    Returns:
        dx: a new array with the shape and dtype of dout.
    """
    ### BEGIN SOLUTION
    if cache["mask"] is None:
        return dout.copy()
    return dout * cache["mask"] * cache["scale"]
    ### END SOLUTION
