"""Parameters, training FLOPs and scaling laws of GPT-2-style models (exercise 4.8).

- ``count_parameters``: the exact size of Module 3's GPT (tied head, learnt positions);
- ``flops_per_token``: Kaplan et al. (2020)'s training cost, ``6N + 6 n_layer n_ctx d_model``;
- ``chinchilla_optimal``: the compute-optimal split of a budget ``C = 6 N D`` with Hoffmann et
  al. (2022)'s rule of thumb ``D = 20 N``;
- ``fit_power_law``: ``y = a x^b`` fitted by least squares on ``(log x, log y)``.
"""

import math

import numpy as np

from .gqa import config_value

CHINCHILLA_TOKENS_PER_PARAM = 20  # Hoffmann et al. (2022): D_opt ~ 20 N_opt


def _sizes(config, fn):
    """``(V, T_max, n_layer, C)`` of a ``GPTConfig`` or a dict / object with ``vocab_size``,
    ``block_size`` (or HF's ``n_positions``), ``n_layer`` and ``n_embd`` (given)."""
    block_size = config_value(config, "block_size", config_value(config, "n_positions"))
    sizes = {"vocab_size": config_value(config, "vocab_size"), "block_size": block_size,
             "n_layer": config_value(config, "n_layer"), "n_embd": config_value(config, "n_embd")}
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{fn}: config needs {name} as a positive integer, got {value!r}")
    return tuple(int(v) for v in sizes.values())


def count_parameters(config, include_embeddings=True):
    """Exact number of parameters of Module 3's GPT-2 (exercise 4.8).

    ``GPT(config).num_parameters()`` without building the model: the token table ``wte``
    (V x C, also the output head: tied, so counted once), the position table ``wpe``
    (T_max x C), per block the two LayerNorms (weight and bias), the q|k|v projection, the
    attention output projection and the two MLP matrices (weights and biases, MLP width 4C),
    and the final LayerNorm ``ln_f``. 124,439,808 for GPT-2 small.

    Args:
        config: a ``GPTConfig``, or a dict / object with ``vocab_size``, ``block_size`` (or
            ``n_positions``), ``n_layer`` and ``n_embd`` (``n_head`` does not change the count).
        include_embeddings: False gives Kaplan et al.'s *non-embedding* N: the same count
            without ``wte`` and ``wpe`` (85,056,000 for GPT-2 small). Biases and LayerNorm
            parameters stay in N.

    Returns:
        The number of parameters, an ``int``.

    Raises:
        ValueError: if a size is missing or not a positive integer.
    """
    V, T, L, C = _sizes(config, "count_parameters")
    ### BEGIN SOLUTION
    block = (2 * C                    # ln_1: weight and bias
             + C * 3 * C + 3 * C      # attn.c_attn: the fused q|k|v projection
             + C * C + C              # attn.c_proj
             + 2 * C                  # ln_2
             + C * 4 * C + 4 * C      # mlp.c_fc
             + 4 * C * C + C)         # mlp.c_proj      -> 12 C^2 + 13 C per block
    n = L * block + 2 * C  # + ln_f
    if include_embeddings:
        n += V * C + T * C  # wte (the head reuses it) and wpe
    return n
    ### END SOLUTION


def flops_per_token(config, seq_len):
    """Training FLOPs per token, forward and backward: ``6 N + 6 n_layer seq_len n_embd``
    (exercise 4.8).

    Kaplan et al. (2020), Table 1: a forward costs ``2 N`` (one multiply and one add per
    non-embedding parameter, N = ``count_parameters(config, include_embeddings=False)``) plus
    ``2 n_layer seq_len n_embd`` for the attention scores ``q k^T`` and the weighted sum of
    the values (``4 seq_len n_embd`` per layer over all keys, halved because a causal query
    sees on average half of them). The backward costs twice the forward, so training costs
    three times it. The embedding lookups are free and the output head (``2 V n_embd``) is
    left out, as Kaplan does.

    Args:
        config: as for ``count_parameters``.
        seq_len: the context length the model is trained on (int >= 1).

    Returns:
        FLOPs per training token, an ``int``.

    Raises:
        ValueError: if ``seq_len`` is not a positive integer, or as ``count_parameters``.
    """
    _, _, L, C = _sizes(config, "flops_per_token")
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)) or seq_len < 1:
        raise ValueError(f"flops_per_token: seq_len must be a positive integer, got {seq_len!r}")
    ### BEGIN SOLUTION
    N = count_parameters(config, include_embeddings=False)
    forward = 2 * N + 2 * L * int(seq_len) * C  # matmuls with the weights + attention
    return 3 * forward  # backward = 2 x forward (gradients of the inputs and of the weights)
    ### END SOLUTION


def chinchilla_optimal(compute, tokens_per_param=CHINCHILLA_TOKENS_PER_PARAM):
    """Compute-optimal model size and data for a training budget (exercise 4.8).

    Solves ``compute = 6 N D`` with ``D = tokens_per_param * N`` (Hoffmann et al., 2022:
    about 20 tokens per parameter): ``N = sqrt(compute / (6 * tokens_per_param))``. With the
    defaults, ``N = sqrt(C / 120)``; Chinchilla's budget ``5.88e23`` gives 70e9 parameters
    and 1.4e12 tokens.

    Args:
        compute: the training budget C in FLOPs (> 0).
        tokens_per_param: D / N at the optimum (> 0).

    Returns:
        ``(n_params, n_tokens)``, two floats with ``6 * n_params * n_tokens == compute``.

    Raises:
        ValueError: if ``compute`` or ``tokens_per_param`` is not a positive finite number.
    """
    for name, value in (("compute", compute), ("tokens_per_param", tokens_per_param)):
        if not (isinstance(value, (int, float, np.integer, np.floating))
                and math.isfinite(value) and value > 0):
            raise ValueError(f"chinchilla_optimal: {name} must be a positive number, "
                             f"got {value!r}")
    ### BEGIN SOLUTION
    n_params = math.sqrt(compute / (6 * tokens_per_param))  # C = 6 N (r N) = 6 r N^2
    return n_params, tokens_per_param * n_params
    ### END SOLUTION


def fit_power_law(x, y):
    """Fit ``y = a * x**b`` by least squares on ``(log x, log y)`` (exercise 4.8).

    A power law is a straight line in log-log space, ``log y = log a + b log x``: ordinary
    least squares of ``log y`` on ``log x`` gives the slope ``b`` and the intercept
    ``log a``. (Fitting ``a x^b`` to ``y`` itself would let the largest y dominate.)

    Args:
        x: positive numbers, 1-D array-like of length n >= 2, at least two distinct values.
        y: positive numbers, same length.

    Returns:
        ``(a, b)``, two floats: the prefactor and the exponent.

    Raises:
        ValueError: if x and y are not 1-D of the same length, a value is not positive and
            finite, or x has fewer than two distinct values (the slope is then undefined).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"fit_power_law: x and y must be 1-D of the same length, got shapes "
                         f"{x.shape} and {y.shape}")
    for name, values in (("x", x), ("y", y)):
        if not np.all(np.isfinite(values) & (values > 0)):
            raise ValueError(f"fit_power_law: every {name} must be positive and finite (a "
                             f"power law is fitted on log {name})")
    if np.unique(x).size < 2:
        raise ValueError("fit_power_law: x needs at least two distinct values to fit a slope")
    ### BEGIN SOLUTION
    lx, ly = np.log(x), np.log(y)
    dx = lx - lx.mean()
    b = np.sum(dx * (ly - ly.mean())) / np.sum(dx * dx)  # slope: cov(lx, ly) / var(lx)
    log_a = ly.mean() - b * lx.mean()  # the line passes through the means
    return float(np.exp(log_a)), float(b)
    ### END SOLUTION
