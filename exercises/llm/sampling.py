"""Decoding strategies: greedy, temperature, top-k and top-p (nucleus) sampling (exercise 4.4).

Every function takes the logits of the next token, shape ``(V,)`` for one sequence or
``(B, V)`` for a batch, works along the last axis, never modifies its input and keeps its
float dtype. The semantics are those of Hugging Face ``transformers``
(``TemperatureLogitsWarper``, ``TopKLogitsWarper``, ``TopPLogitsWarper`` with
``min_tokens_to_keep=1``), applied in the same order: temperature, then top-k, then top-p.

A filter removes a token by setting its logit to ``-inf``: softmax then gives it probability
exactly 0, and the probabilities of the tokens left are renormalised among themselves.

Ties. ``top_k_filter`` keeps every token whose logit equals the k-th largest (so more than k
may survive), exactly as Hugging Face. ``top_p_filter`` likewise keeps every token whose logit
equals the smallest one kept; there Hugging Face keeps only the tied tokens that ``torch.sort``
happens to place last, so the two differ only when equal logits straddle the boundary, where
ours keeps a superset (see ``tests/parity/test_sampling_parity.py``).
"""

import numpy as np


def as_logits(logits, fn_name):
    """``logits`` as a float array of shape (V,) or (B, V) (given, not an exercise).

    Integer input is converted to float64; float input is returned as is (not copied).
    """
    logits = np.asarray(logits)
    if logits.ndim not in (1, 2) or logits.shape[-1] == 0:
        raise ValueError(f"{fn_name}: logits should have shape (V,) or (B, V) with V >= 1, "
                         f"got {logits.shape}")
    if logits.dtype.kind != "f":
        logits = logits.astype(np.float64)
    return logits


def greedy(logits):
    """The most probable next token: argmax over the vocabulary (exercise 4.4).

    Args:
        logits: (V,) or (B, V) float array (not modified).

    Returns:
        For (V,) input a Python int; for (B, V) input a (B,) int64 array. Ties go to the
        lowest token id (as ``np.argmax``).
    """
    logits = as_logits(logits, "greedy")
    raise NotImplementedError(
        "Exercise 4.4 (greedy) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#5-decoding-strategies"
    )


def top_k_filter(logits, k):
    """Keep the k largest logits, set the others to -inf (exercise 4.4).

    A token is removed iff its logit is strictly smaller than the k-th largest logit of its
    row, so tokens tied with the k-th value are all kept (more than k may survive). ``k >= V``
    keeps everything.

    Args:
        logits: (V,) or (B, V) float array (not modified).
        k: int >= 1.

    Returns:
        A new array of the same shape and dtype; removed entries are ``-inf``, kept ones are
        unchanged.

    Raises:
        ValueError: if ``k`` is not an int >= 1.
    """
    logits = as_logits(logits, "top_k_filter")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"top_k_filter: k should be an int >= 1, got {k!r}")
    raise NotImplementedError(
        "Exercise 4.4 (top_k_filter) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#5-decoding-strategies"
    )


def top_p_filter(logits, p):
    """Nucleus filtering: keep the most probable tokens until their mass reaches p (exercise 4.4).

    As Hugging Face: sort the logits ascending, take the softmax and its cumulative sum
    ``c``, and remove the tokens with ``c <= 1 - p`` (the least probable ones, whose total
    mass is at most 1 - p). What is left is the smallest set of most probable tokens whose
    mass is >= p: it includes the token that crosses p, and always the most probable token.
    Tokens tied with the smallest kept logit are kept too. ``p == 1`` keeps every token.

    Args:
        logits: (V,) or (B, V) float array (not modified); may contain ``-inf``.
        p: float in (0, 1].

    Returns:
        A new array of the same shape and dtype; removed entries are ``-inf``, kept ones are
        unchanged.

    Raises:
        ValueError: if ``p`` is not in (0, 1].
    """
    logits = as_logits(logits, "top_p_filter")
    if not 0 < p <= 1:
        raise ValueError(f"top_p_filter: p should be in (0, 1], got {p!r}")
    raise NotImplementedError(
        "Exercise 4.4 (top_p_filter) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#5-decoding-strategies"
    )


def sample_next_token(logits, rng, temperature=1.0, top_k=None, top_p=None):
    """Draw the next token: temperature, then top-k, then top-p, then sample (exercise 4.4).

    The order is Hugging Face's: ``logits / temperature`` first (so top-p sees the tempered
    distribution), then ``top_k_filter``, then ``top_p_filter``, then softmax. The draw is an
    inverse CDF with one uniform number per row, exactly as ``rng.choice(V, p=probs)``: with
    ``u = rng.random()`` (for (B, V) input ``u = rng.random(B)``, one number per row, in row
    order) and ``cdf = cumsum(probs) / sum(probs)``, the token is the first index with
    ``cdf > u``. ``temperature == 0`` is greedy decoding and draws nothing from ``rng``.

    Args:
        logits: (V,) or (B, V) float array (not modified).
        rng: a ``np.random.Generator``; the only source of randomness.
        temperature: float >= 0; < 1 sharpens the distribution, > 1 flattens it.
        top_k: None (no top-k) or an int >= 1.
        top_p: None (no top-p) or a float in (0, 1].

    Returns:
        For (V,) input a Python int; for (B, V) input a (B,) int64 array.

    Raises:
        ValueError: if ``temperature < 0`` (or ``top_k`` / ``top_p`` out of range).
    """
    logits = as_logits(logits, "sample_next_token")
    if not temperature >= 0:
        raise ValueError(f"sample_next_token: temperature should be >= 0, got {temperature!r}")
    raise NotImplementedError(
        "Exercise 4.4 (sample_next_token) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#5-decoding-strategies"
    )
