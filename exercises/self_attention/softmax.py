"""Softmax and its backward pass (exercises 1.1 and 1.2)."""

import numpy as np


def softmax(x, axis=-1):
    """Numerically stable softmax along one axis (exercise 1.1).

    softmax(x)_i = exp(x_i) / sum_j exp(x_j), computed without overflow: inputs like 1e4 must
    work (lecture, §2.3–2.4).

    Args:
        x: array of any shape, floating dtype. Entries may be ``-inf`` (masked out).
        axis: the axis to normalise over (default: the last one).

    Returns:
        Array of the same shape and dtype as ``x`` (float32 in -> float32 out); entries along
        ``axis`` are >= 0 and sum to 1. ``-inf`` entries give exactly 0, and a slice that is
        all ``-inf`` (a fully masked row) gives all zeros -- no NaN, no RuntimeWarning.
        ``x`` is not modified.
    """
    raise NotImplementedError(
        "Exercise 1.1 (softmax) is not implemented yet; "
        "see lectures/01_self_attention/theory.md#2-softmax-and-its-jacobian"
    )


def softmax_backward(dout, out, axis=-1):
    """Gradient of a loss through softmax (exercise 1.2).

    The vector-Jacobian product of softmax (derived in the lecture, §2.5–2.6), without
    building the ``(n, n)`` Jacobian of each slice.

    Args:
        dout: dL/d(out), same shape as ``out``.
        out: the softmax output ``s`` of the forward pass (any shape).
        axis: the axis softmax normalised over.

    Returns:
        dx: dL/dx, same shape and dtype as ``out``. Where ``out`` is 0 (masked entries,
        fully masked rows) the gradient is 0.
    """
    raise NotImplementedError(
        "Exercise 1.2 (softmax_backward) is not implemented yet; "
        "see lectures/01_self_attention/theory.md#2-softmax-and-its-jacobian"
    )
