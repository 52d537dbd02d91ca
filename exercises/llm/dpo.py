"""Sequence log-probabilities and Direct Preference Optimization (exercise 4.12).

DPO (Rafailov et al., 2023) trains a policy pi on preference pairs (x, y_w, y_l) without a
reward model and without reinforcement learning. The optimal policy of the KL-regularised
objective ``max E[r] - beta KL(pi || pi_ref)`` defines an implicit reward

    r(x, y) = beta * (log pi(y|x) - log pi_ref(y|x))    (up to a term of x alone),

and the Bradley-Terry loss of 4.10 on these rewards is the DPO loss:

    loss = mean_i -log sigma( beta * [ (log pi(y_w) - log pi_ref(y_w))
                                       - (log pi(y_l) - log pi_ref(y_l)) ] ).

The log-probabilities are those of whole completions: ``sequence_logprob`` sums the
per-token log-probabilities of a language model over the completion's tokens (lecture 4,
§15).
"""

import numpy as np


def as_logps(value, name, fn_name):
    """A (N,) float array of per-sequence log-probabilities (given, not an exercise)."""
    value = np.asarray(value)
    if value.dtype.kind not in "iuf" or value.ndim != 1 or value.size == 0:
        raise ValueError(f"{fn_name}: {name} should be a real array of shape (N,) with N >= 1 "
                         f"(one log-probability per sequence), got shape {value.shape} and "
                         f"dtype {value.dtype}")
    return value if value.dtype.kind == "f" else value.astype(np.float64)


def sequence_logprob(logits, tokens, mask):
    """Log-probability of each sequence's masked tokens under a language model (exercise 4.12).

    Alignment (the off-by-one): ``tokens`` are the TARGETS, already aligned with the logits,
    as GPT.loss's targets: ``logits[b, t]`` is the model's prediction for ``tokens[b, t]``.
    For a sequence ``s`` of length T + 1 fed as ``idx = s[:, :-1]``, pass
    ``logits = model.forward(idx)`` and ``tokens = s[:, 1:]``; this function does not shift.

        out[b] = sum_t mask[b, t] * log softmax(logits[b, t])[tokens[b, t]]

    The log-softmax is computed stably (lecture 4, §15.1), never as ``log(softmax(z))``,
    which gives -inf where a probability underflows to 0.

    Args:
        logits: (B, T, V) float array (not modified).
        tokens: (B, T) integer array of ids in [0, V) (also where the mask is 0: pad with any
            valid id, e.g. 0).
        mask: (B, T) array of 0/1 (or bool): 1 where the token counts (the completion), 0 for
            the prompt and the padding.

    Returns:
        (B,) array of the logits' dtype: the summed log-probability of each sequence (<= 0;
        0 for a row whose mask is all 0).

    Raises:
        ValueError: if the shapes do not match, an id is outside [0, V), or the mask is not
            0/1.
    """
    logits, tokens, mask = np.asarray(logits), np.asarray(tokens), np.asarray(mask)
    if logits.ndim != 3 or logits.dtype.kind != "f":
        raise ValueError(f"sequence_logprob: logits should be a (B, T, V) float array, got "
                         f"shape {logits.shape} and dtype {logits.dtype}")
    if tokens.shape != logits.shape[:2] or mask.shape != logits.shape[:2]:
        raise ValueError(f"sequence_logprob: tokens and mask should both be (B, T) = "
                         f"{logits.shape[:2]} (the targets aligned with the logits), got "
                         f"{tokens.shape} and {mask.shape}")
    if tokens.dtype.kind not in "iu" or tokens.size and (tokens.min() < 0
                                                          or tokens.max() >= logits.shape[2]):
        raise ValueError(f"sequence_logprob: tokens should be integer ids in [0, "
                         f"{logits.shape[2]}) everywhere (pad with a valid id, e.g. 0)")
    if not np.all((mask == 0) | (mask == 1)):
        raise ValueError("sequence_logprob: mask should contain only 0 and 1")
    raise NotImplementedError(
        "Exercise 4.12 (sequence_logprob) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#15-direct-preference-optimization"
    )


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps,
             beta):
    """The mean DPO loss over N preference pairs (exercise 4.12).

    With the implicit rewards ``r_w = beta * (policy_chosen_logps - ref_chosen_logps)`` and
    ``r_l = beta * (policy_rejected_logps - ref_rejected_logps)``, and the margin
    ``z = r_w - r_l``:

        loss = mean_i -log sigma(z_i)

    (beta is INSIDE the sigmoid; the mean, not the sum), finite for any finite input.

    Args:
        policy_chosen_logps: (N,) log pi(y_w | x) of the policy being trained.
        policy_rejected_logps: (N,) log pi(y_l | x).
        ref_chosen_logps: (N,) log pi_ref(y_w | x) of the frozen reference model.
        ref_rejected_logps: (N,) log pi_ref(y_l | x).
        beta: float > 0, the strength of the KL regularisation (typically 0.1 - 0.5).

    Returns:
        loss: a NumPy float scalar of the inputs' dtype, the mean over the N pairs.
        cache: what ``dpo_loss_backward`` needs (opaque to the caller).

    Raises:
        ValueError: if the four arrays are not all (N,), or beta is not > 0.
    """
    logps = [as_logps(v, name, "dpo_loss") for v, name in (
        (policy_chosen_logps, "policy_chosen_logps"),
        (policy_rejected_logps, "policy_rejected_logps"),
        (ref_chosen_logps, "ref_chosen_logps"), (ref_rejected_logps, "ref_rejected_logps"))]
    if len({v.shape for v in logps}) != 1:
        raise ValueError(f"dpo_loss: the four log-probability arrays should have the same shape "
                         f"(N,), got {[v.shape for v in logps]}")
    if isinstance(beta, bool) or not np.isscalar(beta) or not beta > 0:
        raise ValueError(f"dpo_loss: beta should be a number > 0, got {beta!r}")
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps = logps
    raise NotImplementedError(
        "Exercise 4.12 (dpo_loss) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#15-direct-preference-optimization"
    )


def dpo_loss_backward(dloss, cache):
    """Gradients of the DPO loss with respect to the policy's log-probabilities (exercise 4.12).

    The reference log-probabilities are constants (the reference model is frozen), so only
    two gradients come back (derived in lecture 4, §15.3).

    Args:
        dloss: scalar, the upstream gradient dL/dloss.
        cache: from ``dpo_loss``.

    Returns:
        (d_policy_chosen, d_policy_rejected): two (N,) arrays of the inputs' dtype.
    """
    raise NotImplementedError(
        "Exercise 4.12 (dpo_loss_backward) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#15-direct-preference-optimization"
    )
