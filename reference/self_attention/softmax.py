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
    ### BEGIN SOLUTION
    x_max = np.max(x, axis=axis, keepdims=True)
    # An all -inf row has max -inf, and (-inf) - (-inf) is NaN: shift such rows by 0 instead.
    x_max = np.where(np.isneginf(x_max), 0, x_max)
    e = x - x_max  # a new array (x is not modified), exponentiated in place
    np.exp(e, out=e)
    total = np.sum(e, axis=axis, keepdims=True)
    # An all -inf row sums to 0; dividing its zeros by 1 keeps them zeros. Multiplying by
    # the reciprocal, in place, is one pass over e instead of a division into a new array.
    e *= 1.0 / np.where(total == 0, 1, total)
    return e
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    dx = dout - np.sum(dout * out, axis=axis, keepdims=True)
    dx *= out  # in place: dx is a new array
    return dx
    ### END SOLUTION
