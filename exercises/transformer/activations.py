"""Activation functions and their backward passes: ReLU, GELU (both forms), SiLU (exercise 3.3).

Each forward returns ``(out, cache)`` and each backward ``dx = *_backward(dout, cache)``;
all are elementwise. ``erf`` at the bottom is given: NumPy has no error function, and the
exact GELU needs one.
"""

import math

import numpy as np

GELU_APPROXIMATIONS = ("tanh", "none")
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)  # Python floats: float32 arrays stay float32
GELU_TANH_COEF = 0.044715
INV_SQRT2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_BLOCK = 1 << 15  # elements per block (_blocks, erf): a block's steps stay in the CPU cache


def _blocks(*arrays):
    """Matching slices of ``_BLOCK`` elements of same-shape arrays, flattened (given, not an
    exercise). A chain of elementwise steps run block by block keeps each block in the CPU
    cache from the first step to the last, instead of streaming the whole arrays through
    memory at every step; the output arrays must be C-contiguous (their slices are views)."""
    flat = [np.reshape(a, -1) for a in arrays]
    for start in range(0, flat[0].size, _BLOCK):
        yield tuple(f[start:start + _BLOCK] for f in flat)


def relu(x):
    """``max(x, 0)`` elementwise (exercise 3.3).

    Args:
        x: array of any shape, floating dtype.

    Returns:
        out: same shape and dtype as x (float32 in -> float32 out); x is not modified.
        cache: dict for ``relu_backward``; the reference keeps the boolean mask ``x > 0``.
    """
    raise NotImplementedError(
        "Exercise 3.3 (relu) is not implemented yet; "
        "see lectures/03_transformer/theory.md#4-activation-functions"
    )


def relu_backward(dout, cache):
    """Gradient of ``relu`` (exercise 3.3).

    At ``x == 0`` the derivative is taken to be 0, as in PyTorch (lecture 3, §4.1).

    Args:
        dout: dL/d(out), the shape of x.
        cache: the cache returned by ``relu``.

    Returns:
        dx: the shape and dtype of dout.
    """
    raise NotImplementedError(
        "Exercise 3.3 (relu_backward) is not implemented yet; "
        "see lectures/03_transformer/theory.md#4-activation-functions"
    )


def gelu(x, approximate="tanh"):
    """Gaussian error linear unit, ``x * Phi(x)`` (Hendrycks & Gimpel) (exercise 3.3).

    Phi is the standard normal CDF. Two forms, named as in ``torch.nn.functional.gelu``:

    * ``approximate="tanh"`` (the default here, GPT-2's ``gelu_new``)::

          0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))

    * ``approximate="none"``, the exact form (PyTorch's default, BERT)::

          0.5 * x * (1 + erf(x / sqrt(2)))

      with the given ``erf`` below (NumPy has none).

    The two differ by up to about 4.7e-4 (near ``|x| = 2.7``): small, but a pretrained GPT-2
    needs the tanh form to reproduce its logits.

    Args:
        x: array of any shape, floating dtype.
        approximate: ``"tanh"`` or ``"none"``.

    Returns:
        out: same shape and dtype as x (float32 in -> float32 out; write ``x * x * x``,
            not ``x ** 3``, which is far slower on float32); x is not modified.
        cache: dict for ``gelu_backward``; the reference keeps ``x``, ``approximate`` and
            ``tanh`` (the tanh of the inner term) or ``cdf`` (``Phi(x)``).

    Raises:
        ValueError: if ``approximate`` is neither ``"tanh"`` nor ``"none"``.
    """
    if approximate not in GELU_APPROXIMATIONS:
        raise ValueError(
            f"gelu: approximate must be 'tanh' (GPT-2) or 'none' (exact), got {approximate!r}"
        )
    raise NotImplementedError(
        "Exercise 3.3 (gelu) is not implemented yet; "
        "see lectures/03_transformer/theory.md#4-activation-functions"
    )


def gelu_backward(dout, cache):
    """Gradient of ``gelu`` in the form the forward used (exercise 3.3).

    Both derivatives are derived in lecture 3, §4.2 (exact) and §4.3 (tanh).

    Args:
        dout: dL/d(out), the shape of x.
        cache: the cache returned by ``gelu``.

    Returns:
        dx: the shape and dtype of dout.
    """
    raise NotImplementedError(
        "Exercise 3.3 (gelu_backward) is not implemented yet; "
        "see lectures/03_transformer/theory.md#4-activation-functions"
    )


def silu(x):
    """Sigmoid linear unit (swish), ``x * sigmoid(x)`` (exercise 3.3).

    The sigmoid must not overflow: ``1 / (1 + exp(-x))`` overflows ``exp`` for
    ``x < -709`` (float64; ``-88`` in float32) and warns (lecture 3, §4.4).

    Args:
        x: array of any shape, floating dtype.

    Returns:
        out: same shape and dtype as x (float32 in -> float32 out), finite for every finite
            x, no warning; x is not modified.
        cache: dict for ``silu_backward``; the reference keeps ``x`` and ``sigmoid``.
    """
    raise NotImplementedError(
        "Exercise 3.3 (silu) is not implemented yet; "
        "see lectures/03_transformer/theory.md#4-activation-functions"
    )


def silu_backward(dout, cache):
    """Gradient of ``silu`` (exercise 3.3; derived in lecture 3, §4.4).

    Args:
        dout: dL/d(out), the shape of x.
        cache: the cache returned by ``silu``.

    Returns:
        dx: the shape and dtype of dout.
    """
    raise NotImplementedError(
        "Exercise 3.3 (silu_backward) is not implemented yet; "
        "see lectures/03_transformer/theory.md#4-activation-functions"
    )


# --- given: the error function (not an exercise) -------------------------------------------
# W. J. Cody's rational Chebyshev approximations ("Rational Chebyshev approximations for the
# error function", Math. Comp. 23, 1969), as in netlib's specfun CALERF: erf on |x| <= 0.46875,
# erfc on 0.46875 < |x| <= 4 and on |x| > 4. Highest-degree coefficient first.
_ERF_A = (1.85777706184603153e-1, 3.16112374387056560e00, 1.13864154151050156e02,
          3.77485237685302021e02, 3.20937758913846947e03)
_ERF_B = (1.0, 2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERFC_C = (2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e00,
           6.61191906371416295e01, 2.98635138197400131e02, 8.81952221241769090e02,
           1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03)
_ERFC_D = (1.0, 1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
           1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
           3.43936767414372164e03, 1.23033935480374942e03)
_ERFC_P = (1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1,
           1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4)
_ERFC_Q = (1.0, 2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
           6.05183413124413191e-2, 2.33520497626869185e-3)
_ONE_OVER_SQRT_PI = 1.0 / math.sqrt(math.pi)


def _ratio(num, den, z):
    """num(z) / den(z) by Horner's rule, in place; highest degree first, den[0] == 1."""
    p = num[0] * z
    p += num[1]
    q = z + den[1]
    for a in num[2:]:
        p *= z
        p += a
    for b in den[2:]:
        q *= z
        q += b
    p /= q
    return p


def _erf_block(x):
    """erf of a 1-D float64 block (see ``erf``). The two main ranges are evaluated on the
    whole block (clipped into range) and selected with ``np.where``, cheaper than gathering
    them; NaN propagates through every step."""
    y = np.abs(x)
    ys = np.minimum(y, 0.46875)  # erf(y) = y R(y^2) for y <= 0.46875
    small = _ratio(_ERF_A, _ERF_B, ys * ys)
    small *= ys
    ym = np.clip(y, 0.46875, 4.0)  # erfc(y) = exp(-y^2) R(y) for 0.46875 < y <= 4
    mid = _ratio(_ERFC_C, _ERFC_D, ym)
    mid *= np.exp(-ym * ym)
    out = np.where(y <= 0.46875, small, 1.0 - mid)
    big = y > 4.0  # rare: erfc(y) = exp(-y^2) / y (1/sqrt(pi) - z R(z)), z = 1/y^2
    if big.any():
        yb = np.minimum(y[big], 6.0)  # erfc(6) < 2.2e-17, so erf is 1.0; y*y cannot overflow
        z = 1.0 / (yb * yb)
        tail = _ONE_OVER_SQRT_PI - z * _ratio(_ERFC_P, _ERFC_Q, z)
        out[big] = 1.0 - np.exp(-yb * yb) / yb * tail
    return np.copysign(out, x, out=out)  # erf is odd


def erf(x):
    """The error function ``erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt`` (given).

    A vectorised NumPy version of ``math.erf``, evaluated in float64 with W. J. Cody's
    rational approximations: within 2.3e-16 of ``math.erf`` (at most 4 units in the last
    place on a million test points), and about 4x faster than
    ``np.frompyfunc(math.erf, 1, 1)`` (it works through the array in cache-sized blocks).
    ``erf(-x) = -erf(x)``, ``erf(+-inf) = +-1``, NaN stays NaN, no warnings.

    Args:
        x: array-like of any shape (or a scalar).

    Returns:
        ``erf(x)`` with x's shape, in x's floating dtype (float32 in -> float32 out: computed
        in float64, then rounded; integer input gives float64). x is not modified.
    """
    x = np.asarray(x)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
    flat = x.reshape(-1)
    out = np.empty(flat.shape, dtype=np.float64)
    for start in range(0, flat.size, _BLOCK):
        block = flat[start : start + _BLOCK].astype(np.float64)  # a copy: x is never written
        out[start : start + _BLOCK] = _erf_block(block)
    return out.reshape(x.shape).astype(dtype, copy=False)
