"""RLHF with PPO, as in InstructGPT: GAE, the clipped surrogate, the KL penalty (exercise 4.11).

A response of T tokens is an episode of a token-level MDP: the state is the prompt plus the
tokens so far, the action the next token. InstructGPT's per-token reward is

    r_t = -beta * (log pi(a_t | s_t) - log pi_ref(a_t | s_t))      (the KL penalty, k1)
          + score(prompt, response)  at the last token only         (the reward model)

and PPO improves pi with

- ``gae``: advantages A_t by generalized advantage estimation (backwards over the tokens) and
  the value-function targets ``returns = A + V``;
- ``ppo_clip_loss``: the clipped surrogate loss and its gradient w.r.t. the new log-probs;
- ``kl_penalty``: the per-token KL estimators k1, k2, k3 between pi and pi_ref.

Arrays are float; the time axis is the last axis, so one episode is ``(T,)`` and a batch of
responses is ``(B, T)``.
"""

import numpy as np

KL_KINDS = ("k1", "k2", "k3")


def _float_array(x, name, where):
    """``x`` as a float array (given helper); integers become float64."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{where}: {name} must be a numeric array, got dtype {x.dtype}")
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _same_shape(where, **arrays):
    """Raise ValueError naming the arrays whose shapes differ (given helper)."""
    shapes = {name: a.shape for name, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"{where}: the arrays must have the same shape, got {listed}")


def gae(rewards, values, gamma, lam, dones=None, last_value=0.0):
    """Generalized advantage estimation, computed backwards in time (exercise 4.11).

    Step ``t`` of an episode takes state ``s_t`` to ``s_{t+1}`` with reward ``r_t``;
    ``done_t = 1`` means the episode ENDS after step ``t``: ``s_{t+1}`` is terminal, worth 0,
    and nothing after ``t`` belongs to the same episode. With ``V_T = last_value`` (the value
    of the state after the last step, for a window cut mid-episode):

        delta_t = r_t + gamma * V_{t+1} * (1 - done_t) - V_t          (the TD residual)
        A_t     = delta_t + gamma * lam * (1 - done_t) * A_{t+1},   A_T = 0
        returns = A + V                                                (the value targets)

    so ``A_t = sum_l (gamma lam)^l delta_{t+l}`` summed up to the end of t's episode.

    Example (one episode that ends at its last step, as an RLHF response does)::

        gae([0., 0., 1.], [0.5, 0.5, 0.5], gamma=1.0, lam=0.5, dones=[0, 0, 1])
        # delta = [0, 0, 0.5]; A = [0.125, 0.25, 0.5]; returns = [0.625, 0.75, 1.0]

    Args:
        rewards: ``(..., T)`` rewards ``r_t``: one episode ``(T,)`` or a batch ``(B, T)``.
        values: ``(..., T)`` value estimates ``V(s_t)`` of the states before each step.
        gamma: discount in [0, 1].
        lam: GAE's lambda in [0, 1]: 0 gives the one-step TD advantage ``delta_t`` (low
            variance, biased by V), 1 the Monte-Carlo return minus ``V`` (unbiased, noisy).
        dones: ``(..., T)`` 0/1 (or bool) episode ends, or None for no end inside the window.
        last_value: ``V(s_T)``, a scalar or ``(...,)`` array: the value after the last step,
            used only where the last step is not done. 0 by default (the episode ended).

    Returns:
        (advantages, returns): two ``(..., T)`` arrays of the inputs' float dtype.

    Raises:
        ValueError: if the shapes differ, ``T`` is 0, or gamma / lam are outside [0, 1].
    """
    rewards = _float_array(rewards, "rewards", "gae")
    values = _float_array(values, "values", "gae")
    dones = np.zeros(rewards.shape) if dones is None else _float_array(dones, "dones", "gae")
    _same_shape("gae", rewards=rewards, values=values, dones=dones)
    if rewards.ndim == 0 or rewards.shape[-1] == 0:
        raise ValueError(f"gae: rewards must have a time axis of length >= 1, got shape "
                         f"{rewards.shape}")
    if not (0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0):
        raise ValueError(f"gae: gamma and lam must be in [0, 1], got gamma={gamma}, lam={lam}")
    dtype = np.result_type(rewards.dtype, values.dtype)
    last_value = np.broadcast_to(np.asarray(last_value, dtype=dtype), rewards.shape[:-1])
    raise NotImplementedError(
        "Exercise 4.11 (gae) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#14-rlhf-with-ppo"
    )


def ppo_clip_loss(logp_new, logp_old, advantages, clip_eps=0.2, mask=None):
    """PPO's clipped surrogate loss and its gradient w.r.t. ``logp_new`` (exercise 4.11).

    With the importance ratio ``rho_t = pi_new(a_t|s_t) / pi_old(a_t|s_t) =
    exp(logp_new_t - logp_old_t)`` and the tokens ``t`` where ``mask_t = 1`` (``N`` of them):

        loss = -(1/N) sum_t mask_t * min(rho_t A_t, clip(rho_t, 1 - eps, 1 + eps) A_t)

    The min makes the objective pessimistic: a token stops pulling once its ratio has moved
    past ``1 + eps`` (for ``A_t > 0``) or below ``1 - eps`` (for ``A_t < 0``), and there its
    gradient is exactly 0. "Clipped" means ``A_t > 0 and rho_t > 1 + eps`` or ``A_t < 0 and
    rho_t < 1 - eps``; the gradient elsewhere is derived in lecture 4, §14.5.

    Args:
        logp_new: ``(...)`` log-probabilities of the taken tokens under the policy being
            optimized (e.g. ``(B, T)``).
        logp_old: same shape, under the policy that sampled them (constants).
        advantages: same shape, ``A_t`` (e.g. from ``gae``; constants).
        clip_eps: eps > 0 (0.2 in PPO).
        mask: same shape, 1 (True) for response tokens, 0 for padding; None = every token.

    Returns:
        (loss, dlogp_new): the loss as a Python float, and its gradient w.r.t. ``logp_new``,
        an array of ``logp_new``'s shape (0 on padding).

    Raises:
        ValueError: if the shapes differ, ``clip_eps <= 0``, or the mask selects no token.
    """
    logp_new = _float_array(logp_new, "logp_new", "ppo_clip_loss")
    logp_old = _float_array(logp_old, "logp_old", "ppo_clip_loss")
    advantages = _float_array(advantages, "advantages", "ppo_clip_loss")
    mask = np.ones(logp_new.shape) if mask is None else \
        _float_array(mask, "mask", "ppo_clip_loss")
    _same_shape("ppo_clip_loss", logp_new=logp_new, logp_old=logp_old, advantages=advantages,
                mask=mask)
    if not clip_eps > 0:
        raise ValueError(f"ppo_clip_loss: clip_eps must be > 0, got {clip_eps}")
    if not mask.sum() > 0:
        raise ValueError("ppo_clip_loss: the mask selects no token (mask.sum() == 0)")
    raise NotImplementedError(
        "Exercise 4.11 (ppo_clip_loss) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#14-rlhf-with-ppo"
    )


def kl_penalty(logp, logp_ref, kind="k1"):
    """Per-token estimators of KL(pi || pi_ref) from tokens sampled from pi (exercise 4.11).

    With ``log r = logp_ref - logp`` (``r = pi_ref(a|s) / pi(a|s)``), Schulman's estimators:

        k1 = -log r = logp - logp_ref              (InstructGPT's per-token penalty)
        k2 = (log r)^2 / 2                         (biased, >= 0, low variance)
        k3 = (r - 1) - log r                       (unbiased, >= 0, low variance)

    k1 and k3 have expectation exactly KL(pi || pi_ref) under ``a ~ pi``; one k1 sample can
    be negative, k2 and k3 never are. The RLHF reward subtracts ``beta * k1`` at every token.
    k3 keeps full relative precision for r near 1, where ``exp(log r) - 1 - log r`` loses
    every digit: compute ``r - 1`` as ``np.expm1(log r)``.

    Args:
        logp: ``(...)`` log pi(a_t|s_t) of the sampled tokens under the policy.
        logp_ref: same shape, under the frozen reference (SFT) model.
        kind: ``"k1"``, ``"k2"`` or ``"k3"``.

    Returns:
        An array of ``logp``'s shape: the per-token estimate (no reduction).

    Raises:
        ValueError: for an unknown ``kind`` or different shapes.
    """
    logp = _float_array(logp, "logp", "kl_penalty")
    logp_ref = _float_array(logp_ref, "logp_ref", "kl_penalty")
    _same_shape("kl_penalty", logp=logp, logp_ref=logp_ref)
    if kind not in KL_KINDS:
        raise ValueError(f"kl_penalty: kind must be one of {KL_KINDS}, got {kind!r}")
    raise NotImplementedError(
        "Exercise 4.11 (kl_penalty) is not implemented yet; "
        "see lectures/04_llm_fundamentals/theory.md#14-rlhf-with-ppo"
    )
