"""Finite-difference gradients in float64: the grader's ground truth for every backward.

`numerical_gradient` differentiates any scalar closure (the grader's own formulas);
`numerical_gradient_of` / `check_gradient_of` differentiate a call of the student's forward,
`sum(dout * fn(...)[0])`, and send all its perturbed calls to the sandbox in one request.
"""

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


def numerical_gradient_of(fn, args: tuple, kwargs: dict, x: np.ndarray, dout: np.ndarray,
                          output: int | None = 0, h: float = 1e-6) -> np.ndarray:
    """Central differences of `sum(dout * fn(*args, **kwargs)[output])` with respect to every
    entry of `x`, one of the arrays in `args` / `kwargs` (`output=None`: the whole return).

    Cost: `2 * x.size` calls of `fn`; for a sandboxed `fn`, in one round trip."""
    if x.dtype != np.float64:
        raise TypeError("gradient checks run in float64")
    if hasattr(fn, "perturbed_outputs"):
        outs = fn.perturbed_outputs(args, kwargs, x, h, output)
        expect.array(outs, "the outputs of your forward under finite differences",
                     shape=(2, x.size, *np.shape(dout)), finite=False)
    else:
        outs = np.empty((2, x.size, *np.shape(dout)))
        flat = x.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            for side, step in enumerate((h, -h)):
                flat[i] = old + step
                value = fn(*args, **kwargs)
                outs[side, i] = value if output is None else value[output]
            flat[i] = old
    with np.errstate(all="ignore"):
        losses = np.tensordot(outs, dout, axes=np.ndim(dout))  # (2, x.size)
    return ((losses[0] - losses[1]) / (2 * h)).reshape(x.shape)


def check_gradient_of(analytic, fn, args: tuple, kwargs: dict, x: np.ndarray,
                      dout: np.ndarray, name: str, hint: str = "") -> None:
    """`analytic` must match the central differences of `sum(dout * fn(...)[0])` w.r.t. `x`."""
    numeric = numerical_gradient_of(fn, args, kwargs, x, dout)
    expect.close(analytic, numeric, name, hint=hint, **expect.GRAD)
