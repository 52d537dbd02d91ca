"""Layer normalisation and RMS normalisation, forward and backward (exercise 3.2).

Both normalise every vector ``x[..., :]`` over its last axis (the C features of one token),
never across tokens or the batch, so they behave the same in training and inference.
LayerNorm (Ba et al. 2016; Vaswani, GPT-2) centres and scales; RMSNorm (Zhang & Sennrich
2019; T5, LLaMA) only scales, by the root mean square.
"""

import numpy as np


def _check_norm_inputs(x, params, eps, where):
    """Raise a clear error if x and the affine parameters do not fit (given, not an exercise).

    ``params`` is a dict ``{"gamma": gamma, ...}`` of the parameters to check.
    """
    if np.ndim(x) < 1:
        raise ValueError(f"{where}: x must be (..., C), got a scalar")
    c = np.shape(x)[-1]
    for name, p in params.items():
        if p is None or np.shape(p) != (c,):
            raise ValueError(f"{where}: {name} must be (C,) = ({c},), got {np.shape(p)}")
    if not eps >= 0:  # also rejects NaN
        raise ValueError(f"{where}: eps must be >= 0, got {eps}")


def layer_norm(x, gamma, beta, eps=1e-5):
    """Layer normalisation over the last axis (exercise 3.2).

    For every vector ``x[..., :]`` of C features::

        mu  = mean(x)                       var = mean((x - mu)^2)   (biased: divide by C)
        xhat = (x - mu) / sqrt(var + eps)   (eps inside the sqrt)
        y    = xhat * gamma + beta

    exactly ``torch.nn.functional.layer_norm(x, (C,), gamma, beta, eps)`` and
    ``nn.LayerNorm(C)`` (default eps 1e-5; GPT-2 uses 1e-5 too).

    Args:
        x: ``(..., C)``, e.g. ``(B, T, C)``; floating dtype.
        gamma: ``(C,)`` scale (initialised to ones).
        beta: ``(C,)`` shift (initialised to zeros).
        eps: added to the variance inside the square root; >= 0.

    Returns:
        out: ``(..., C)`` in x's dtype (float32 in -> float32 out); x is not modified.
        cache: dict for ``layer_norm_backward``; the reference keeps the normalised
            ``xhat`` ``(..., C)``, the reciprocal std ``rstd = 1 / sqrt(var + eps)``
            ``(..., 1)`` and ``gamma``.

    Raises:
        ValueError: if gamma or beta is not ``(C,)``, or eps < 0.
    """
    _check_norm_inputs(x, {"gamma": gamma, "beta": beta}, eps, "layer_norm")
    ### BEGIN SOLUTION
    mu = x.mean(axis=-1, keepdims=True)  # (..., 1)
    xc = x - mu  # (..., C) centred
    # (..., 1), biased: mean(xc^2), each row's dot product with itself (no (..., C) temporary)
    var = np.einsum("...c,...c->...", xc, xc)[..., None] / x.shape[-1]
    rstd = 1.0 / np.sqrt(var + eps)  # (..., 1); Python floats keep float32 float32
    xhat = np.multiply(xc, rstd, out=xc)  # (..., C), in xc's buffer: xc is not needed again
    out = xhat * gamma
    out += beta  # in place: out is a new array
    cache = {"xhat": xhat, "rstd": rstd, "gamma": gamma}
    return out, cache
    ### END SOLUTION


def layer_norm_backward(dout, cache):
    """Gradients of ``layer_norm`` (exercise 3.2; derived in lecture 3, §3.2-3.3).

    Args:
        dout: dL/d(out), ``(..., C)``.
        cache: the cache returned by ``layer_norm``.

    Returns:
        (dx, dgamma, dbeta): ``(..., C)``, ``(C,)``, ``(C,)``, in the inputs' dtype.
    """
    ### BEGIN SOLUTION
    xhat, rstd, gamma = cache["xhat"], cache["rstd"], cache["gamma"]
    c = xhat.shape[-1]
    dout_xhat = dout * xhat  # (..., C)
    dgamma = dout_xhat.reshape(-1, c).sum(axis=0)  # (C,)
    dbeta = dout.reshape(-1, c).sum(axis=0)  # (C,)
    # The two means over the features, as matrix-vector products with gamma (one BLAS call
    # each, no (..., C) temporary): mean(g) = dout @ gamma / C, mean(g * xhat) = (dout *
    # xhat) @ gamma / C.
    g_mean = (dout @ gamma)[..., None] / c  # (..., 1): through mu
    gx_mean = (dout_xhat @ gamma)[..., None] / c  # (..., 1): through var
    dx = dout * gamma  # g = dL/dxhat, (..., C); then, in place,
    dx -= g_mean  # dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
    dx -= np.multiply(xhat, gx_mean, out=dout_xhat)  # (reusing dout_xhat's buffer)
    dx *= rstd
    return dx, dgamma, dbeta
    ### END SOLUTION


def rms_norm(x, gamma, eps=1e-6):
    """RMS normalisation over the last axis (exercise 3.2).

    For every vector ``x[..., :]`` of C features::

        rms = sqrt(mean(x^2) + eps)         (eps inside the sqrt; no mean is subtracted)
        y   = x / rms * gamma

    as Hugging Face's ``LlamaRMSNorm`` (eps 1e-6 by default there and here) and
    ``torch.nn.functional.rms_norm(x, (C,), gamma, eps)`` (whose default eps, when None, is
    the dtype's machine epsilon instead: pass eps explicitly when comparing). No bias.

    Args:
        x: ``(..., C)``; floating dtype.
        gamma: ``(C,)`` scale (initialised to ones).
        eps: added to the mean square inside the square root; >= 0.

    Returns:
        out: ``(..., C)`` in x's dtype (float32 in -> float32 out); x is not modified.
        cache: dict for ``rms_norm_backward``; the reference keeps ``xhat = x / rms``
            ``(..., C)``, ``rrms = 1 / rms`` ``(..., 1)`` and ``gamma``.

    Raises:
        ValueError: if gamma is not ``(C,)``, or eps < 0.
    """
    _check_norm_inputs(x, {"gamma": gamma}, eps, "rms_norm")
    ### BEGIN SOLUTION
    ms = (x * x).mean(axis=-1, keepdims=True)  # (..., 1) mean square
    rrms = 1.0 / np.sqrt(ms + eps)  # (..., 1)
    xhat = x * rrms  # (..., C)
    out = xhat * gamma
    cache = {"xhat": xhat, "rrms": rrms, "gamma": gamma}
    return out, cache
    ### END SOLUTION


def rms_norm_backward(dout, cache):
    """Gradients of ``rms_norm`` (exercise 3.2; derived in lecture 3, §3.5).

    Args:
        dout: dL/d(out), ``(..., C)``.
        cache: the cache returned by ``rms_norm``.

    Returns:
        (dx, dgamma): ``(..., C)`` and ``(C,)``, in the inputs' dtype.
    """
    ### BEGIN SOLUTION
    xhat, rrms, gamma = cache["xhat"], cache["rrms"], cache["gamma"]
    dgamma = (dout * xhat).reshape(-1, xhat.shape[-1]).sum(axis=0)  # (C,)
    g = dout * gamma  # dL/dxhat, (..., C)
    dx = rrms * (g - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    return dx, dgamma
    ### END SOLUTION
