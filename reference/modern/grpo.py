"""GRPO, group-relative policy optimization, as in DeepSeekMath (exercise 5.5).

GRPO (Shao et al., 2024) is PPO without a value network. For each prompt it samples a
*group* of G completions, scores each with a reward (a verifier: "is the final answer
right?"), and uses the reward relative to the group as every token's advantage::

    A_i = (r_i - mean(r_group)) / (std(r_group) + eps)          one advantage per completion

The policy is then trained with PPO's clipped surrogate at every token, and the KL to the
frozen reference model is a penalty in the loss (not in the reward, as in InstructGPT),
estimated per token by Schulman's k3::

    rho_t = exp(logp_new_t - logp_old_t)
    k3_t  = exp(logp_ref_t - logp_new_t) - (logp_ref_t - logp_new_t) - 1        (>= 0)
    l_t   = -min(rho_t A_t, clip(rho_t, 1 - clip_eps, 1 + clip_eps) A_t) + beta k3_t

- ``group_advantages``: the group-normalised advantages (sample std, as TRL's GRPOTrainer);
- ``grpo_loss``: the mean of ``l_t`` over the completion tokens, and a cache;
- ``grpo_loss_backward``: its gradient w.r.t. ``logp_new``.

Arrays are float; completions are rows: ``(B, T)`` log-probabilities of the sampled tokens,
``B = n_prompts * group_size`` with each prompt's group in consecutive rows.
"""

import numpy as np

NORMALIZE = ("sequence", "token")


def _grpo_float_array(x, name, where):
    """``x`` as a float array (given helper); integers and booleans become float64."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{where}: {name} must be a numeric array, got dtype {x.dtype}")
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def group_advantages(rewards, group_size, eps=1e-4):
    """The advantages of GRPO: each reward relative to its group (exercise 5.5).

    ``rewards`` holds ``G = N / group_size`` groups of ``group_size`` consecutive completions
    of one prompt each. Within a group, with its mean ``m`` and its *sample* standard
    deviation ``s = sqrt(sum_j (r_j - m)^2 / (group_size - 1))`` (Bessel's correction, as
    ``torch.std`` and TRL's GRPOTrainer with ``scale_rewards="group"``):

        A_i = (r_i - m) / (s + eps)

    A group whose rewards are all equal teaches nothing: its advantages are exactly 0.

    Example::

        group_advantages([1., 0., 0., 1., 2., 2.], group_size=3)
        # group 1: m = 1/3, s = 0.57735 -> A = [1.1545, -0.5773, -0.5773] (eps makes them
        # a little smaller); group 2: m = 5/3, s = 0.57735 -> A = [-1.1545, 0.5773, 0.5773]

    Args:
        rewards: ``(N,)`` one scalar reward per completion, the groups one after the other.
        group_size: completions per prompt, >= 2, dividing N.
        eps: > 0, keeps the division finite for groups of (nearly) equal rewards.

    Returns:
        ``(N,)`` advantages, of the rewards' float dtype.

    Raises:
        ValueError: if rewards is not 1-D, is empty, ``group_size < 2``, ``group_size`` does
            not divide N, or ``eps <= 0``.
    """
    rewards = _grpo_float_array(rewards, "rewards", "group_advantages")
    if rewards.ndim != 1 or rewards.size == 0:
        raise ValueError(f"group_advantages: rewards must be a non-empty 1-D array (N,), got "
                         f"shape {rewards.shape}")
    if int(group_size) != group_size or group_size < 2:
        raise ValueError(f"group_advantages: group_size must be an integer >= 2 (a sample "
                         f"standard deviation needs two rewards), got {group_size}")
    if rewards.size % group_size:
        raise ValueError(f"group_advantages: group_size={group_size} does not divide the "
                         f"{rewards.size} rewards into whole groups")
    if not eps > 0:
        raise ValueError(f"group_advantages: eps must be > 0, got {eps}")
    ### BEGIN SOLUTION
    groups = rewards.reshape(-1, int(group_size))  # (G, group_size): one prompt per row
    centred = groups - groups.mean(axis=1, keepdims=True)
    std = groups.std(axis=1, ddof=1, keepdims=True)  # the sample std, as TRL
    advantages = centred / (std + eps)
    # equal rewards: force exact zeros (the mean of equal floats can differ in the last bit)
    advantages[np.ptp(groups, axis=1) == 0] = 0.0
    return advantages.reshape(rewards.shape).astype(rewards.dtype, copy=False)
    ### END SOLUTION


def grpo_loss(logp_new, logp_old, logp_ref, advantages, mask, clip_eps=0.2, beta=0.04,
              normalize="sequence"):
    """GRPO's loss: PPO's clipped surrogate plus beta times the k3 KL, per token (exercise 5.5).

    With the per-token loss of the module docstring (``rho`` the ratio to the sampling
    policy, ``k3`` the KL estimate to the reference)

        l_t = -min(rho_t A_t, clip(rho_t, 1 - clip_eps, 1 + clip_eps) A_t) + beta k3_t

    the loss averages ``l_t`` over the completion tokens (``mask = 1``) in one of two ways:

    - ``normalize="sequence"`` (DeepSeekMath's GRPO, TRL's ``loss_type="grpo"``): the mean
      over each completion's own tokens, then the mean over the B completions,
      ``loss = (1/B) sum_b (1/n_b) sum_t mask_bt l_bt`` with ``n_b = max(sum_t mask_bt, 1)``
      (a completion without tokens adds 0 but still counts in B, as TRL). A token of a short
      completion weighs more than one of a long completion.
    - ``normalize="token"`` (TRL's ``loss_type="bnpo"``, which is also its default ``"dapo"``
      on one device without gradient accumulation): one mean over all the batch's tokens,
      ``loss = sum_bt mask_bt l_bt / sum_bt mask_bt``: every token weighs the same.

    Args:
        logp_new: ``(B, T)`` log-probabilities of the sampled tokens under the policy being
            trained.
        logp_old: ``(B, T)``, under the policy that sampled them (constants).
        logp_ref: ``(B, T)``, under the frozen reference model (constants).
        advantages: ``(B,)`` one advantage per completion (from ``group_advantages``), or
            ``(B, T)`` one per token.
        mask: ``(B, T)`` 1 (True) on completion tokens, 0 on padding.
        clip_eps: > 0, PPO's clip range (0.2).
        beta: >= 0, the weight of the KL penalty (0.04 in DeepSeekMath; 0 switches it off).
        normalize: ``"sequence"`` or ``"token"``, as above.

    Returns:
        (loss, cache): the loss as a Python float, and what ``grpo_loss_backward`` needs.

    Raises:
        ValueError: if the shapes differ, ``clip_eps <= 0``, ``beta < 0``, ``normalize`` is
            unknown, or the mask selects no token.
    """
    where = "grpo_loss"
    logp_new = _grpo_float_array(logp_new, "logp_new", where)
    logp_old = _grpo_float_array(logp_old, "logp_old", where)
    logp_ref = _grpo_float_array(logp_ref, "logp_ref", where)
    advantages = _grpo_float_array(advantages, "advantages", where)
    mask = _grpo_float_array(mask, "mask", where)
    if logp_new.ndim != 2:
        raise ValueError(f"{where}: logp_new must be (B, T), got shape {logp_new.shape}")
    for name, a in (("logp_old", logp_old), ("logp_ref", logp_ref), ("mask", mask)):
        if a.shape != logp_new.shape:
            raise ValueError(f"{where}: {name} has shape {a.shape}, logp_new {logp_new.shape}")
    if advantages.shape not in ((logp_new.shape[0],), logp_new.shape):
        raise ValueError(f"{where}: advantages must be (B,) = ({logp_new.shape[0]},) or (B, T) "
                         f"= {logp_new.shape}, got {advantages.shape}")
    if not clip_eps > 0:
        raise ValueError(f"{where}: clip_eps must be > 0, got {clip_eps}")
    if not beta >= 0:
        raise ValueError(f"{where}: beta must be >= 0, got {beta}")
    if normalize not in NORMALIZE:
        raise ValueError(f"{where}: normalize must be one of {NORMALIZE}, got {normalize!r}")
    if not mask.sum() > 0:
        raise ValueError(f"{where}: the mask selects no token (mask.sum() == 0)")
    if advantages.ndim == 1:
        advantages = advantages[:, None]  # the completion's advantage at each of its tokens
    ### BEGIN SOLUTION
    ratio = np.exp(logp_new - logp_old)
    unclipped = ratio * advantages
    clipped = np.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    log_r = logp_ref - logp_new
    k3 = np.expm1(log_r) - log_r  # exp(log r) - 1 - log r, accurate for r near 1
    per_token = -np.minimum(unclipped, clipped) + beta * k3
    if normalize == "sequence":  # weight 1 / (B n_b) for each token of completion b
        lengths = np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        weights = mask / (lengths * mask.shape[0])
    else:  # weight 1 / N for every token of the batch
        weights = mask / mask.sum()
    loss = np.sum(weights * per_token)
    # the surrogate's gradient flows only where the min picks the unclipped term
    active = unclipped <= clipped
    cache = (weights, active, unclipped, log_r, beta, logp_new.dtype)
    return float(loss), cache
    ### END SOLUTION


def grpo_loss_backward(dloss, cache):
    """The gradient of ``grpo_loss`` w.r.t. ``logp_new`` (exercise 5.5).

    Per token, with ``w_t`` the token's weight in the mean (``mask / (B n_b)`` or
    ``mask / N``):

        d loss / d logp_new_t = w_t * (-rho_t A_t [unclipped term chosen]
                                       + beta * (1 - exp(logp_ref_t - logp_new_t)))

    ``logp_old``, ``logp_ref`` and the advantages are constants: no gradient flows to them.

    Args:
        dloss: the upstream gradient, a scalar (1.0 when the loss is the objective).
        cache: the second value returned by ``grpo_loss``.

    Returns:
        ``(B, T)`` gradient w.r.t. ``logp_new``, of its dtype (0 on padding).
    """
    ### BEGIN SOLUTION
    weights, active, unclipped, log_r, beta, dtype = cache
    dk3 = -np.expm1(log_r)  # d/dlogp_new of exp(log r) - 1 - log r, with log r = ref - new
    dper_token = -(active * unclipped) + beta * dk3
    return (dloss * weights * dper_token).astype(dtype, copy=False)
    ### END SOLUTION
