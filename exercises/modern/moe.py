"""A sparse mixture-of-experts layer and its load-balancing loss (exercise 5.3).

A mixture of experts (MoE) replaces the one feed-forward network of a block by E of them,
the *experts*, and a *router* that sends every token to only k of them (Shazeer et al.,
2017; Switch Transformer, Fedus et al., 2022; Mixtral, Jiang et al., 2024)::

    p = softmax(x W_gate)                      (N, E)   router probabilities
    i_1 .. i_k = the k largest entries of p    (N, k)   the chosen experts
    w_j = p[i_j] / (p[i_1] + ... + p[i_k])     (N, k)   Mixtral's renormalised weights
    out = sum_j w_j * swiglu_{i_j}(x)          (N, C)   only the chosen experts run

The layer holds E times the parameters of one SwiGLU network but spends the FLOPs of k of
them per token. A router left alone sends most tokens to a few experts; Switch's
load-balancing loss ``E * sum_i f_i P_i`` pushes it back towards uniform routing.

Parameters are the course's ``(in, out)`` matrices: ``params["gate"]`` ``(C, E)`` (HF's
``gate.weight`` transposed) and, per expert ``e``, ``experts.{e}.W_gate`` / ``W_up`` ``(C, F)``
and ``experts.{e}.W_down`` ``(F, C)``, as ``swiglu`` (exercise 3.4) names them.
"""

import re

import numpy as np

from ..self_attention.softmax import softmax, softmax_backward
from ..transformer.feed_forward import SWIGLU_PARAM_NAMES, swiglu, swiglu_backward

_EXPERT_KEY = re.compile(r"experts\.(\d+)\.(\w+)")


def expert_params(params, e):
    """The SwiGLU parameters of expert ``e``: ``{"W_gate", "W_up", "W_down"}`` taken from
    ``params["experts.{e}.W_gate"]`` etc. (given, not an exercise)."""
    return {name: params[f"experts.{e}.{name}"] for name in SWIGLU_PARAM_NAMES}


def init_moe(d_model, n_experts, rng, hidden=None, dtype=np.float64, std=0.02):
    """Random parameters of ``moe_layer`` (given, not an exercise).

    ``gate`` ``(C, E)`` first, then each expert's ``W_gate``, ``W_up`` ``(C, F)`` and
    ``W_down`` ``(F, C)`` in expert order, all drawn from N(0, std^2).

    Args:
        d_model: C, the model width.
        n_experts: E, the number of experts.
        rng: a ``np.random.Generator`` (the only source of randomness).
        hidden: F, each expert's inner width; ``int(8 * d_model / 3)`` when None.
        dtype: dtype of every array.
        std: standard deviation of the weights.

    Returns:
        dict with the keys ``gate`` and ``experts.{e}.W_gate``, ``experts.{e}.W_up``,
        ``experts.{e}.W_down`` for e = 0 .. E-1.
    """
    hidden = int(8 * d_model / 3) if hidden is None else hidden
    params = {"gate": (std * rng.standard_normal((d_model, n_experts))).astype(dtype)}
    for e in range(n_experts):
        for name, shape in (("W_gate", (d_model, hidden)), ("W_up", (d_model, hidden)),
                            ("W_down", (hidden, d_model))):
            params[f"experts.{e}.{name}"] = (std * rng.standard_normal(shape)).astype(dtype)
    return params


def _check_x(x, c, where):
    """x must be a real float array (N, C) or (B, T, C) whose last axis is C."""
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise ValueError(f"{where}: x must be a float NumPy array, got "
                         f"{getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim not in (2, 3) or x.shape[-1] != c:
        raise ValueError(f"{where}: x must be (N, C) or (B, T, C) with C = {c} (the router's "
                         f"first axis), got shape {x.shape}")


def _check_top_k(top_k, n_experts, where):
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) \
            or not 1 <= top_k <= n_experts:
        raise ValueError(f"{where}: top_k must be an integer in [1, E] = [1, {n_experts}], got "
                         f"{top_k!r}")


def _check_moe_params(params, c, where):
    """The router (C, E) and E experts of SwiGLU shapes; returns E."""
    gate = params.get("gate") if isinstance(params, dict) else None
    if gate is None or np.ndim(gate) != 2 or np.shape(gate)[0] != c:
        raise ValueError(f"{where}: params needs 'gate' of shape (C, E) with C = {c}, got "
                         f"{np.shape(gate) if gate is not None else 'nothing'}")
    n_experts = gate.shape[1]
    for key in params:
        match = _EXPERT_KEY.fullmatch(key)
        if key != "gate" and not (match and int(match[1]) < n_experts
                                  and match[2] in SWIGLU_PARAM_NAMES):
            raise ValueError(f"{where}: unexpected parameter {key!r}; the keys are 'gate' and "
                             f"'experts.{{e}}.W_gate' / 'W_up' / 'W_down' for e < E = "
                             f"{n_experts} (E from gate's shape {gate.shape})")
    for e in range(n_experts):
        missing = [n for n in SWIGLU_PARAM_NAMES if f"experts.{e}.{n}" not in params]
        if missing:
            raise ValueError(f"{where}: expert {e} lacks {missing} (E = {n_experts} from gate's "
                             f"shape {gate.shape})")
        w_gate, w_up, w_down = (np.shape(v) for v in expert_params(params, e).values())
        f = w_gate[1] if len(w_gate) == 2 else -1
        if w_gate != (c, f) or w_up != (c, f) or w_down != (f, c):
            raise ValueError(f"{where}: expert {e} has W_gate {w_gate}, W_up {w_up}, W_down "
                             f"{w_down}; expected (C, F), (C, F), (F, C) with C = {c}")
    return n_experts


def moe_router(x, W_gate, top_k):
    """Mixtral's router: softmax over the experts, the top k, weights renormalised (ex. 5.3).

        p = softmax(x W_gate)                          over the E experts, per token
        expert_index[n] = the k experts of largest p[n], largest first; on a tie the
                          lower expert index comes first
        weights[n, j] = p[n, expert_index[n, j]] / sum_l p[n, expert_index[n, l]]

    as HF's ``MixtralTopKRouter`` (its ``weight`` is ``W_gate`` transposed).

    Args:
        x: ``(N, C)`` tokens, or ``(B, T, C)``, read as the ``N = B * T`` rows of
            ``x.reshape(-1, C)``.
        W_gate: ``(C, E)`` router matrix.
        top_k: k, the experts per token (an int, 1 <= k <= E).

    Returns:
        weights: ``(N, k)``, each row positive and summing to 1; the inputs' dtype.
        expert_index: ``(N, k)`` int64, distinct experts in each row, largest p first.
        router_probs: ``(N, E)``, the full softmax ``p`` (rows sum to 1).
        cache: dict for ``moe_layer_backward`` (the reference keeps x as ``(N, C)``,
            ``W_gate``, ``router_probs``, ``expert_index``, the chosen probabilities and
            ``weights``). x and W_gate are not modified.

    Raises:
        ValueError: if x is not a float ``(N, C)`` / ``(B, T, C)`` array, W_gate is not
            ``(C, E)``, or top_k is not an integer in [1, E].
    """
    if np.ndim(W_gate) != 2:
        raise ValueError(f"moe_router: W_gate must be (C, E), got shape {np.shape(W_gate)}")
    _check_x(x, W_gate.shape[0], "moe_router")
    _check_top_k(top_k, W_gate.shape[1], "moe_router")
    raise NotImplementedError(
        "Exercise 5.3 (moe_router) is not implemented yet; "
        "see lectures/05_modern_llms/theory.md#5-mixture-of-experts"
    )


def moe_layer(x, params, top_k):
    """A sparse MoE layer of SwiGLU experts, as HF's ``MixtralSparseMoeBlock`` (ex. 5.3).

        weights, expert_index, router_probs = moe_router(x, params["gate"], top_k)
        out[n] = sum_j weights[n, j] * swiglu(x[n], expert_params(params, expert_index[n, j]))

    Each expert runs once, on the tokens routed to it only (never on all N tokens: that
    would cost E / k times the FLOPs); an expert no token chose does not run.

    Args:
        x: ``(N, C)`` or ``(B, T, C)``.
        params: ``gate`` ``(C, E)`` and, for every expert e < E, ``experts.{e}.W_gate``
            ``(C, F)``, ``experts.{e}.W_up`` ``(C, F)``, ``experts.{e}.W_down`` ``(F, C)``
            (see ``init_moe`` and ``expert_params``).
        top_k: experts per token, 1 <= k <= E (Mixtral: 2 of 8).

    Returns:
        out: the shape and dtype of x (float32 in -> float32 out); x and params are not
            modified.
        cache: dict for ``moe_layer_backward``, with ``cache["router_probs"]`` ``(N, E)``
            and ``cache["expert_index"]`` ``(N, k)`` for ``load_balancing_loss``; the
            reference also keeps the router's cache and, per expert, the routed rows, their
            slots, the expert's output and its swiglu cache.

    Raises:
        ValueError: for an x that is not ``(N, C)`` / ``(B, T, C)``, a missing, unexpected
            or mis-shaped parameter, or a top_k outside [1, E].
    """
    if not isinstance(x, np.ndarray) or x.ndim < 1:
        raise ValueError(f"moe_layer: x must be (N, C) or (B, T, C), got {type(x).__name__}")
    n_experts = _check_moe_params(params, x.shape[-1], "moe_layer")
    _check_x(x, x.shape[-1], "moe_layer")
    _check_top_k(top_k, n_experts, "moe_layer")
    raise NotImplementedError(
        "Exercise 5.3 (moe_layer) is not implemented yet; "
        "see lectures/05_modern_llms/theory.md#5-mixture-of-experts"
    )


def moe_layer_backward(dout, cache, drouter_probs=None):
    """Gradients of ``moe_layer``, the router's included (exercise 5.3; lecture 5, §5).

    The choice of the top k is piecewise constant in x and W_gate (no gradient flows
    through it); the weights of the chosen experts, and through them the softmax, do carry
    gradient.

    Args:
        dout: dL/d(out), the shape of the layer's output.
        cache: the cache returned by ``moe_layer``.
        drouter_probs: optional ``(N, E)`` gradient of another loss with respect to the
            router probabilities (``load_balancing_loss_backward``'s), added before the
            softmax's backward.

    Returns:
        (dx, dparams): ``dx`` the shape of x and a dict with the keys of params
        (``gate``, then each expert's ``W_gate``, ``W_up``, ``W_down``) and their shapes; an
        expert no token chose gets zero gradients. The inputs' dtype; dout, the cache and
        drouter_probs are not modified.
    """
    raise NotImplementedError(
        "Exercise 5.3 (moe_layer_backward) is not implemented yet; "
        "see lectures/05_modern_llms/theory.md#5-mixture-of-experts"
    )


def load_balancing_loss(router_probs, expert_index, n_experts):
    """Switch Transformer's load-balancing loss, counted as HF's Mixtral (exercise 5.3).

        f_i = (number of (token, slot) pairs with expert_index[n, j] == i) / N
        P_i = mean over the N tokens of router_probs[n, i]
        loss = E * sum_i f_i * P_i

    With k slots per token, f counts every slot and divides by the number of TOKENS N (not
    by N * k), as HF's ``load_balancing_loss_func`` (transformers 5.x) does: sum_i f_i = k,
    and f_i is the fraction of tokens that chose expert i among their k. Uniform routing
    (f_i = k / E, P_i = 1 / E) gives loss = k; a router sending every token to the same k
    experts with certainty gives E (Fedus et al., 2022, eq. 4-6, where k = 1).

    Args:
        router_probs: ``(N, E)`` router probabilities (``moe_router``'s, or
            ``cache["router_probs"]`` of ``moe_layer``).
        expert_index: ``(N, k)`` integer array of the chosen experts, in [0, E).
        n_experts: E (an int; must equal router_probs.shape[1]).

    Returns:
        loss: a scalar of router_probs' dtype (float32 in -> float32 out).
        cache: dict for ``load_balancing_loss_backward``. The inputs are not modified.

    Raises:
        ValueError: if router_probs is not a float ``(N, E)`` array with N >= 1,
            expert_index not an integer ``(N, k)`` array with entries in [0, E), or
            n_experts not E.
    """
    if not isinstance(router_probs, np.ndarray) or router_probs.dtype.kind != "f" \
            or router_probs.ndim != 2 or router_probs.shape[0] == 0:
        raise ValueError(f"load_balancing_loss: router_probs must be a float array (N, E) "
                         f"with N >= 1, got {np.shape(router_probs)}")
    if isinstance(n_experts, bool) or not isinstance(n_experts, (int, np.integer)) \
            or n_experts != router_probs.shape[1]:
        raise ValueError(f"load_balancing_loss: n_experts must be E = router_probs.shape[1] = "
                         f"{router_probs.shape[1]}, got {n_experts!r}")
    expert_index = np.asarray(expert_index)
    if expert_index.dtype.kind not in "iu" or expert_index.ndim != 2 \
            or expert_index.shape[0] != router_probs.shape[0]:
        raise ValueError(f"load_balancing_loss: expert_index must be an integer array (N, k) "
                         f"with N = {router_probs.shape[0]}, got shape {expert_index.shape} "
                         f"and dtype {expert_index.dtype}")
    if expert_index.size and not (0 <= expert_index.min() and expert_index.max() < n_experts):
        raise ValueError(f"load_balancing_loss: expert_index has entries outside [0, "
                         f"{n_experts}): min {expert_index.min()}, max {expert_index.max()}")
    raise NotImplementedError(
        "Exercise 5.3 (load_balancing_loss) is not implemented yet; "
        "see lectures/05_modern_llms/theory.md#5-mixture-of-experts"
    )


def load_balancing_loss_backward(dloss, cache):
    """Gradient of ``load_balancing_loss`` with respect to router_probs (exercise 5.3).

    f counts discrete choices: it is piecewise constant and carries no gradient; only P does.

    Args:
        dloss: dL/d(loss), a scalar.
        cache: the cache returned by ``load_balancing_loss``.

    Returns:
        drouter_probs: ``(N, E)``, router_probs' dtype (pass it to ``moe_layer_backward``).
    """
    raise NotImplementedError(
        "Exercise 5.3 (load_balancing_loss_backward) is not implemented yet; "
        "see lectures/05_modern_llms/theory.md#5-mixture-of-experts"
    )
