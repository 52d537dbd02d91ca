"""The linear (fully connected) layer, forward and backward (exercise 3.1)."""

import numpy as np


def _check_linear_inputs(x, W, b):
    """Raise a clear error if x, W and b do not fit together (given, not an exercise)."""
    if np.ndim(W) != 2:
        raise ValueError(f"linear: W must be (in, out), got shape {np.shape(W)}")
    n_in, n_out = np.shape(W)
    if np.ndim(x) < 1 or np.shape(x)[-1] != n_in:
        raise ValueError(
            f"linear: x must be (..., in) with in = W.shape[0] = {n_in}, got x {np.shape(x)} "
            f"(W is (in, out) = {np.shape(W)}: y = x @ W + b, the GPT-2 layout; a PyTorch "
            "nn.Linear weight is (out, in) and needs a transpose)"
        )
    if b is not None and np.shape(b) != (n_out,):
        raise ValueError(f"linear: b must be (out,) = ({n_out},), got {np.shape(b)}")


def linear(x, W, b=None):
    """An affine map of the last axis: ``y = x @ W + b`` (exercise 3.1).

    The layout is GPT-2's (``W`` is ``(in, out)``, as in its ``Conv1D`` checkpoint tensors);
    PyTorch's ``F.linear(x, weight, bias)`` computes the same with ``weight = W.T``.

    Args:
        x: ``(..., in)``, any number of leading axes (``(B, T, C)``, ``(N, C)``, ``(C,)``).
        W: ``(in, out)``.
        b: ``(out,)`` or ``None`` (no bias).
        x, W and b should share one floating dtype.

    Returns:
        out: ``(..., out)`` in the inputs' dtype (float32 in -> float32 out).
        cache: dict for ``linear_backward``; the reference keeps ``x``, ``W`` and whether
            there was a bias (references, not copies: do not modify x or W in place before
            the backward pass).

    Raises:
        ValueError: if the shapes do not fit.
    """
    _check_linear_inputs(x, W, b)
    ### BEGIN SOLUTION
    out = x @ W  # (..., in) @ (in, out) -> (..., out)
    if b is not None:
        out += b  # (out,) broadcasts over every leading axis; in place: out is new
    cache = {"x": x, "W": W, "has_bias": b is not None}
    return out, cache
    ### END SOLUTION


def linear_backward(dout, cache):
    """Gradients of ``y = x @ W + b`` (exercise 3.1; derived in lecture 3, §2.2).

    Args:
        dout: dL/d(out), ``(..., out)``.
        cache: the cache returned by ``linear``.

    Returns:
        (dx, dW, db): ``dx`` ``(..., in)`` (x's shape), ``dW`` ``(in, out)``, ``db``
        ``(out,)`` -- or ``None`` when the forward had no bias; the inputs' dtype.
    """
    ### BEGIN SOLUTION
    x, W = cache["x"], cache["W"]
    dx = dout @ W.T  # (..., out) @ (out, in) -> (..., in)
    x_rows = x.reshape(-1, W.shape[0])  # (N, in): every leading axis flattened
    dout_rows = dout.reshape(-1, W.shape[1])  # (N, out)
    dW = x_rows.T @ dout_rows  # (in, N) @ (N, out): summed over the N rows
    db = dout_rows.sum(axis=0) if cache["has_bias"] else None  # (out,)
    return dx, dW, db
    ### END SOLUTION
