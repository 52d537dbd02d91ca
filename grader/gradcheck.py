"""Finite-difference gradients in float64: the grader's ground truth for every backward."""

from __future__ import annotations

import numpy as np

from . import expect


def numerical_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar `f()` with respect to every entry of `x`.

    `f` takes no argument and reads `x`, which is perturbed in place and restored.
    Cost: `2 * x.size` evaluations of `f`.
    """
    if x.dtype != np.float64:
        raise TypeError("gradient checks run in float64")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: x is C-contiguous in our checks
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def check_gradient(analytic, f, x: np.ndarray, name: str, hint: str = "") -> None:
    """The analytic gradient `analytic` of `f()` w.r.t. `x` must match finite differences."""
    numeric = numerical_gradient(f, x)
    expect.close(analytic, numeric, name, hint=hint, **expect.GRAD)
