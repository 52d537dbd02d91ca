"""LoRA: low-rank adaptation of a frozen linear layer (exercise 5.2).

Fine-tuning every weight of a large model needs a gradient and two Adam moments per weight.
LoRA (Hu et al., 2021) freezes the pretrained ``W`` ``(in, out)`` and learns a low-rank update
instead: two small matrices ``A`` ``(in, r)`` and ``B`` ``(r, out)``, ``r << min(in, out)``::

    y = x @ W + b + (alpha / r) * (x @ A) @ B

``r * (in + out)`` trainable numbers instead of ``in * out``. ``B`` starts at zero, so the
adapted model is the pretrained one at step 0. The product ``x @ A`` is only ``(..., r)``: the
forward never forms the ``(in, out)`` matrix ``W + (alpha / r) A @ B``. After training,
``merge_lora`` folds the update into ``W`` once, and inference costs what it did before.

The layout is the course's (``y = x @ W``). Hugging Face PEFT stores the transposes:
``lora_A.weight`` is ``(r, in)`` = ``A.T`` and ``lora_B.weight`` is ``(out, r)`` = ``B.T``;
its default ``scaling`` is ``lora_alpha / r`` (``use_rslora=True`` would use
``lora_alpha / sqrt(r)`` instead).
"""

import numbers

import numpy as np

from ..transformer.linear import linear, linear_backward


def _is_positive_int(value):
    return (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
            and value >= 1)


def _check_alpha(name, alpha):
    """``alpha`` must be a positive finite real number (given, not an exercise)."""
    if (isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real)
            or not np.isfinite(alpha) or alpha <= 0):
        raise ValueError(f"{name}: alpha must be a positive finite number (the update is "
                         f"scaled by alpha / r), got {alpha!r}")


def _check_adapter(name, W, A, B):
    """Raise a clear error unless W (in, out), A (in, r) and B (r, out) fit (given)."""
    if np.ndim(W) != 2:
        raise ValueError(f"{name}: W must be (in, out), got shape {np.shape(W)}")
    if np.ndim(A) != 2 or np.shape(A)[0] != np.shape(W)[0]:
        raise ValueError(f"{name}: A must be (in, r) with in = W.shape[0] = {np.shape(W)[0]}, "
                         f"got A {np.shape(A)} (PEFT's lora_A.weight is (r, in) = A.T)")
    if np.shape(A)[1] < 1:
        raise ValueError(f"{name}: the rank r = A.shape[1] must be at least 1, got A "
                         f"{np.shape(A)}")
    expected = (np.shape(A)[1], np.shape(W)[1])
    if np.shape(B) != expected:
        raise ValueError(f"{name}: B must be (r, out) = {expected} (r = A.shape[1], "
                         f"out = W.shape[1]), got B {np.shape(B)} (PEFT's lora_B.weight is "
                         "(out, r) = B.T)")


def lora_init(in_features, out_features, r, rng, dtype=np.float64):
    """The adapter of a fresh LoRA layer, initialised as PEFT's default (exercise 5.2).

    ``A`` is drawn as PEFT draws ``lora_A.weight``: ``kaiming_uniform_(a=sqrt(5))``, i.e.
    uniform on ``[-1/sqrt(in), 1/sqrt(in)]`` (fan-in ``in``; the same init as a PyTorch
    ``nn.Linear`` weight). ``B`` is all zeros, so the adapted layer equals the frozen one
    until ``B`` is trained.

    Args:
        in_features: ``in``, the input width of the frozen ``W`` (int >= 1).
        out_features: ``out``, its output width (int >= 1).
        r: the rank of the update (int >= 1).
        rng: a ``np.random.Generator``, the only source of randomness.
        dtype: the floating dtype of ``A`` and ``B``.

    Returns:
        ``(A, B)``: ``A`` ``(in, r)`` uniform as above, ``B`` ``(r, out)`` zeros, both
        ``dtype``.

    Raises:
        ValueError: if a size is not a positive integer or ``rng`` is not a Generator.
    """
    for name, value in (("in_features", in_features), ("out_features", out_features),
                        ("r", r)):
        if not _is_positive_int(value):
            raise ValueError(f"lora_init: {name} must be an integer >= 1, got {value!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"lora_init: rng must be a np.random.Generator "
                         f"(np.random.default_rng(seed)), got {type(rng).__name__}")
    raise NotImplementedError(
        "Exercise 5.2 (lora_init) is not implemented yet; "
        "see lectures/05_modern_llms/theory.md#4-low-rank-adaptation-lora"
    )


def lora_linear(x, W, A, B, alpha, b=None):
    """A frozen linear layer plus its low-rank update (exercise 5.2).

    ``y = x @ W + b + (alpha / r) * (x @ A) @ B`` with ``r = A.shape[1]``. Only ``A`` and
    ``B`` are trained; ``W`` and ``b`` are frozen. The update goes through the ``(..., r)``
    product ``x @ A``: never form the ``(in, out)`` matrix ``W + A @ B``.

    Args:
        x: ``(..., in)``, any number of leading axes.
        W: the frozen weight ``(in, out)``.
        A: ``(in, r)``.
        B: ``(r, out)``.
        alpha: the LoRA alpha, a positive number; the update is scaled by ``alpha / r``.
        b: the frozen bias ``(out,)`` or ``None``.
        x, W, A, B and b should share one floating dtype.

    Returns:
        out: ``(..., out)`` in the inputs' dtype (float32 in -> float32 out).
        cache: whatever ``lora_linear_backward`` needs (do not modify the inputs in place
            before the backward pass).

    Raises:
        ValueError: if the shapes do not fit (the message names the array) or ``alpha`` is
            not a positive finite number.
    """
    _check_adapter("lora_linear", W, A, B)
    _check_alpha("lora_linear", alpha)
    if np.ndim(x) < 1 or np.shape(x)[-1] != np.shape(W)[0]:
        raise ValueError(f"lora_linear: x must be (..., in) with in = W.shape[0] = "
                         f"{np.shape(W)[0]}, got x {np.shape(x)}")
    if b is not None and np.shape(b) != (np.shape(W)[1],):
        raise ValueError(f"lora_linear: b must be (out,) = ({np.shape(W)[1]},), "
                         f"got {np.shape(b)}")
    raise NotImplementedError(
        "Exercise 5.2 (lora_linear) is not implemented yet; "
        "see lectures/05_modern_llms/theory.md#4-low-rank-adaptation-lora"
    )


def lora_linear_backward(dout, cache):
    """Gradients of ``lora_linear`` with respect to ``x``, ``A`` and ``B`` (exercise 5.2).

    ``W`` and ``b`` are frozen: the backward returns no gradient for them (computing the
    ``(in, out)`` gradient of ``W`` would cost what LoRA saves).

    Args:
        dout: dL/d(out), ``(..., out)``.
        cache: the cache returned by ``lora_linear``.

    Returns:
        ``(dx, dA, dB)``: ``dx`` ``(..., in)`` (x's shape), ``dA`` ``(in, r)``, ``dB``
        ``(r, out)``, in the inputs' dtype.
    """
    raise NotImplementedError(
        "Exercise 5.2 (lora_linear_backward) is not implemented yet; "
        "see lectures/05_modern_llms/theory.md#4-low-rank-adaptation-lora"
    )


def merge_lora(W, A, B, alpha):
    """The merged weight ``W + (alpha / r) * A @ B`` (exercise 5.2).

    After fine-tuning, one matrix replaces the frozen weight and its adapter: ``x @ merged
    + b`` equals ``lora_linear(x, W, A, B, alpha, b)`` up to rounding, at the frozen layer's
    cost. PEFT's ``merge_and_unload()`` does this (in its ``(out, in)`` layout).

    Args:
        W: the frozen weight ``(in, out)``.
        A: ``(in, r)``.
        B: ``(r, out)``.
        alpha: the LoRA alpha (a positive number), as given to ``lora_linear``.

    Returns:
        A new ``(in, out)`` array in ``W``'s dtype; ``W`` itself is left untouched.

    Raises:
        ValueError: as ``lora_linear``.
    """
    _check_adapter("merge_lora", W, A, B)
    _check_alpha("merge_lora", alpha)
    raise NotImplementedError(
        "Exercise 5.2 (merge_lora) is not implemented yet; "
        "see lectures/05_modern_llms/theory.md#4-low-rank-adaptation-lora"
    )
