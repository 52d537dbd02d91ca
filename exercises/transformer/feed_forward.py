"""The position-wise feed-forward network: GPT-2's GELU MLP and LLaMA's SwiGLU (exercise 3.4).

Both act on every token ``x[b, t, :]`` separately (the same weights at every position) and
are built from ``linear`` (3.1) and the activations (3.3).
"""

import numpy as np

from .activations import gelu, gelu_backward, relu, relu_backward, silu, silu_backward
from .linear import linear, linear_backward

FFN_PARAM_NAMES = ("W_1", "b_1", "W_2", "b_2")
SWIGLU_PARAM_NAMES = ("W_gate", "W_up", "W_down")
ACTIVATIONS = ("gelu", "gelu_exact", "relu", "silu")


def activation_functions(name):
    """``(forward, backward)`` of the activation called ``name`` (given, not an exercise).

    ``"gelu"`` is the tanh form (GPT-2's ``gelu_new``), ``"gelu_exact"`` the erf form
    (PyTorch's default ``nn.GELU()``, BERT), ``"relu"`` the original Transformer's, ``"silu"``
    the swish. Each forward maps ``x`` to ``(out, cache)``; each backward ``(dout, cache)``
    to ``dx``.

    Raises:
        ValueError: for any other name.
    """
    if name == "gelu":
        return (lambda x: gelu(x, approximate="tanh")), gelu_backward
    if name == "gelu_exact":
        return (lambda x: gelu(x, approximate="none")), gelu_backward
    if name == "relu":
        return relu, relu_backward
    if name == "silu":
        return silu, silu_backward
    raise ValueError(f"unknown activation {name!r}; known activations: {ACTIVATIONS}")


def init_feed_forward(d_model, rng, hidden=None, dtype=np.float64, std=0.02):
    """Random parameters of ``feed_forward`` (given, not an exercise).

    ``W_1`` ``(d_model, hidden)`` then ``W_2`` ``(hidden, d_model)`` are drawn from
    N(0, std^2) in that order (GPT-2's init uses std 0.02; GPT-2 further scales the output
    projection by ``1/sqrt(2 * n_layer)``, which the model, not this helper, applies);
    ``b_1`` ``(hidden,)`` and ``b_2`` ``(d_model,)`` are zeros.

    Args:
        d_model: C, the model width.
        rng: a ``np.random.Generator`` (the only source of randomness).
        hidden: F, the inner width; ``4 * d_model`` when None (GPT-2, Vaswani et al.).
        dtype: dtype of every array.
        std: standard deviation of the weights.

    Returns:
        dict with the keys ``W_1 b_1 W_2 b_2``.
    """
    hidden = 4 * d_model if hidden is None else hidden
    return {
        "W_1": (std * rng.standard_normal((d_model, hidden))).astype(dtype),
        "b_1": np.zeros(hidden, dtype=dtype),
        "W_2": (std * rng.standard_normal((hidden, d_model))).astype(dtype),
        "b_2": np.zeros(d_model, dtype=dtype),
    }


def init_swiglu(d_model, rng, hidden=None, dtype=np.float64, std=0.02):
    """Random parameters of ``swiglu`` (given, not an exercise).

    ``W_gate`` ``(d_model, hidden)``, ``W_up`` ``(d_model, hidden)`` and ``W_down``
    ``(hidden, d_model)`` are drawn from N(0, std^2) in that order; no biases (LLaMA).

    Args:
        d_model: C, the model width.
        rng: a ``np.random.Generator``.
        hidden: F, the inner width. When None, ``int(8 * d_model / 3)``: three matrices of
            ``C x 8C/3`` hold as many parameters as the GELU MLP's two of ``C x 4C`` (LLaMA
            then rounds F up to a multiple of 256; pass ``hidden`` to do the same).
        dtype: dtype of every array.
        std: standard deviation of the weights.

    Returns:
        dict with the keys ``W_gate W_up W_down``.
    """
    hidden = int(8 * d_model / 3) if hidden is None else hidden
    return {
        "W_gate": (std * rng.standard_normal((d_model, hidden))).astype(dtype),
        "W_up": (std * rng.standard_normal((d_model, hidden))).astype(dtype),
        "W_down": (std * rng.standard_normal((hidden, d_model))).astype(dtype),
    }


def _check_params(x, params, shapes, where):
    """Raise a clear error if a parameter is missing or mis-shaped (given, not an exercise).

    ``shapes`` maps each name to its expected shape, with the letter ``"F"`` for the inner
    width, which W's first matrix defines.
    """
    if np.ndim(x) < 1:
        raise ValueError(f"{where}: x must be (..., C), got a scalar")
    c = np.shape(x)[-1]
    first = next(iter(shapes))
    if first not in params or np.ndim(params[first]) != 2:
        raise ValueError(f"{where}: params needs a 2-D {first!r} (C, F)")
    f = np.shape(params[first])[1]
    for name, pattern in shapes.items():
        if name not in params:
            raise ValueError(f"{where}: params is missing {name!r}")
        expected = tuple(c if d == "C" else f for d in pattern)
        if np.shape(params[name]) != expected:
            raise ValueError(
                f"{where}: params[{name!r}] has shape {np.shape(params[name])}, expected "
                f"{expected} (C = {c} from x, F = {f} from {first})"
            )


def feed_forward(x, params, activation="gelu"):
    """Position-wise feed-forward network ``W_2(act(x W_1 + b_1)) + b_2`` (exercise 3.4).

        h = x @ W_1 + b_1        (..., F)      GPT-2's c_fc
        a = act(h)               (..., F)
        out = a @ W_2 + b_2      (..., C)      GPT-2's c_proj

    Compose ``linear`` and the activation from ``activation_functions(activation)``.
    Hugging Face's ``GPT2MLP`` computes exactly this with ``activation="gelu"`` (its
    ``Conv1D`` weights are already ``(in, out)``), before its dropout.

    Args:
        x: ``(..., C)``, e.g. ``(B, T, C)``.
        params: dict with ``W_1`` ``(C, F)``, ``b_1`` ``(F,)``, ``W_2`` ``(F, C)``, ``b_2``
            ``(C,)`` (see ``init_feed_forward``; F = 4C in GPT-2 and Vaswani et al.).
        activation: one of ``"gelu"`` (tanh form, the default), ``"gelu_exact"``,
            ``"relu"``, ``"silu"``.

    Returns:
        out: ``(..., C)`` in the inputs' dtype (float32 in -> float32 out); x and params are
            not modified.
        cache: dict for ``feed_forward_backward``; the reference keeps the caches of the two
            linear layers (``"fc"``, ``"proj"``) and of the activation (``"act"``), and the
            activation's name.

    Raises:
        ValueError: if a parameter is missing or mis-shaped, or the activation is unknown.
    """
    _check_params(x, params, {"W_1": "CF", "b_1": "F", "W_2": "FC", "b_2": "C"}, "feed_forward")
    act, _ = activation_functions(activation)
    raise NotImplementedError(
        "Exercise 3.4 (feed_forward) is not implemented yet; "
        "see lectures/03_transformer/theory.md#5-feed-forward-networks-and-gated-variants"
    )


def feed_forward_backward(dout, cache):
    """Gradients of ``feed_forward`` (exercise 3.4; lecture 3, §5.2).

    Args:
        dout: dL/d(out), ``(..., C)``.
        cache: the cache returned by ``feed_forward``.

    Returns:
        (dx, dparams): ``dx`` ``(..., C)`` and a dict with the keys ``W_1 b_1 W_2 b_2``
        (in that order) and the parameters' shapes; the inputs' dtype.
    """
    raise NotImplementedError(
        "Exercise 3.4 (feed_forward_backward) is not implemented yet; "
        "see lectures/03_transformer/theory.md#5-feed-forward-networks-and-gated-variants"
    )


def swiglu(x, params):
    """SwiGLU feed-forward network ``W_down(silu(x W_gate) * (x W_up))`` (exercise 3.4).

        g = x @ W_gate           (..., F)      gate_proj
        u = x @ W_up             (..., F)      up_proj
        h = silu(g) * u          (..., F)      the gated linear unit
        out = h @ W_down         (..., C)      down_proj

    as Hugging Face's ``LlamaMLP`` (Shazeer 2020, "GLU variants improve Transformer"); no
    biases. Compose ``linear`` (with ``b=None``) and ``silu``.

    Args:
        x: ``(..., C)``.
        params: dict with ``W_gate`` ``(C, F)``, ``W_up`` ``(C, F)``, ``W_down`` ``(F, C)``
            (see ``init_swiglu``).

    Returns:
        out: ``(..., C)`` in the inputs' dtype (float32 in -> float32 out); x and params are
            not modified.
        cache: dict for ``swiglu_backward``; the reference keeps the three linear caches
            (``"gate"``, ``"up"``, ``"down"``), the SiLU cache (``"act"``), and ``silu(g)``
            and ``u`` (``"s"``, ``"u"``) for the product rule.

    Raises:
        ValueError: if a parameter is missing or mis-shaped.
    """
    _check_params(x, params, {"W_gate": "CF", "W_up": "CF", "W_down": "FC"}, "swiglu")
    raise NotImplementedError(
        "Exercise 3.4 (swiglu) is not implemented yet; "
        "see lectures/03_transformer/theory.md#5-feed-forward-networks-and-gated-variants"
    )


def swiglu_backward(dout, cache):
    """Gradients of ``swiglu`` (exercise 3.4; derived in lecture 3, §5.5).

    Args:
        dout: dL/d(out), ``(..., C)``.
        cache: the cache returned by ``swiglu``.

    Returns:
        (dx, dparams): ``dx`` ``(..., C)`` and a dict with the keys ``W_gate W_up W_down``
        (in that order) and the parameters' shapes; the inputs' dtype.
    """
    raise NotImplementedError(
        "Exercise 3.4 (swiglu_backward) is not implemented yet; "
        "see lectures/03_transformer/theory.md#5-feed-forward-networks-and-gated-variants"
    )
