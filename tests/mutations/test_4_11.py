"""Mutation tests of 4.11 (GAE, PPO's clipped objective, KL penalty): every check of the
exercise fails on a plausible student bug, and its message names the bug.  The harness and
its conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/

P = "ppo.py"

DELTA = "    deltas = rewards + gamma * next_values * not_done - values  # (..., T)\n"
LOOP = "    for t in reversed(range(T)):  # backwards: A_t needs A_{t+1}\n"
REC = "        running = deltas[..., t] + gamma * lam * not_done[..., t] * running\n"
NEXT = ("    next_values = np.concatenate([values[..., 1:], last_value[..., None]], axis=-1)"
        "  # V_{t+1}\n")
RET = "    return advantages, advantages + values\n"
ADV0 = "    advantages = np.zeros(rewards.shape, dtype=dtype)\n"
RATIO = "    ratio = np.exp(logp_new - logp_old)\n"
CLIPPED = "    clipped = np.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages\n"
LOSS = "    loss = -np.sum(mask * np.minimum(unclipped, clipped)) / n\n"
ACTIVE = "    active = unclipped <= clipped\n"
GRAD = "    dlogp_new = -mask * active * unclipped / n\n"
N = "    n = mask.sum()\n"
K1 = "        return -log_r\n"
K2 = "        return 0.5 * log_r * log_r\n"
K3 = "    return np.expm1(log_r) - log_r  # (r - 1) - log r, accurate for r near 1\n"

KL_NAIVE_K3 = """
_kl_penalty = kl_penalty

def kl_penalty(logp, logp_ref, kind="k1"):
    if kind == "k3":  # (r - 1) - log r, as written: exp(log r) - 1 cancels near r = 1
        log_r = np.asarray(logp_ref, dtype=float) - np.asarray(logp, dtype=float)
        return np.exp(log_r) - 1 - log_r
    return _kl_penalty(logp, logp_ref, kind)
"""

KL_DEFAULT_K3 = """
_kl_penalty = kl_penalty

def kl_penalty(logp, logp_ref, kind="k3"):  # the unbiased, >= 0 estimator as the default
    return _kl_penalty(logp, logp_ref, kind)
"""

GAE_DEFAULT_LAST_VALUE = """
_gae = gae

def gae(rewards, values, gamma, lam, dones=None, last_value=None):
    if last_value is None:  # "bootstrap from the last value we have"
        last_value = np.asarray(values)[..., -1]
    return _gae(rewards, values, gamma, lam, dones, last_value)
"""

PPO_DEFAULT_EPS = """
_ppo_clip_loss = ppo_clip_loss

def ppo_clip_loss(logp_new, logp_old, advantages, clip_eps=0.1, mask=None):
    return _ppo_clip_loss(logp_new, logp_old, advantages, clip_eps, mask)
"""

PPO_EPS_HARD_CODED = """
_ppo_clip_loss = ppo_clip_loss

def ppo_clip_loss(logp_new, logp_old, advantages, clip_eps=0.2, mask=None):
    return _ppo_clip_loss(logp_new, logp_old, advantages, 0.2, mask)  # clip_eps not used
"""

PPO_EMPTY_MASK = """
_ppo_clip_loss = ppo_clip_loss

def ppo_clip_loss(logp_new, logp_old, advantages, clip_eps=0.2, mask=None):
    if mask is not None and not np.any(mask):  # "nothing to learn from": no error
        return 0.0, np.zeros(np.shape(logp_new))
    return _ppo_clip_loss(logp_new, logp_old, advantages, clip_eps, mask)
"""

MUTANTS = [
    # GAE
    Mutant("gae_forward", "4.11", P, ((LOOP, "    for t in range(T):\n"),),
           ("gae_hand_computed", "gae_respects_episode_ends", "gae_batched_and_limits"),
           "forwards in time",
           diagnosis="the recursion runs forwards in time"),
    Mutant("gae_gamma_lam_swapped", "4.11", P,
           ((DELTA, DELTA.replace("gamma * next", "lam * next")),
            (REC, REC.replace("gamma * lam", "lam * gamma"))),
           ("gae_hand_computed", "gae_batched_and_limits"), "gamma and lam are swapped",
           diagnosis="gamma and lam are swapped"),
    Mutant("gae_delta_without_gamma", "4.11", P,
           ((DELTA, DELTA.replace("gamma * next", "next")),),
           ("gae_hand_computed", "gae_respects_episode_ends"), "missing gamma",
           diagnosis="the TD residual is missing gamma"),
    Mutant("gae_recursion_without_gamma", "4.11", P,
           ((REC, REC.replace("gamma * lam", "lam")),),
           ("gae_hand_computed", "gae_batched_and_limits"), "recursion is missing gamma",
           diagnosis="the recursion is missing gamma"),
    Mutant("gae_ignores_last_value", "4.11", P,
           ((NEXT, NEXT.replace("last_value[..., None]", "0.0 * values[..., :1]")),),
           ("gae_hand_computed", "gae_batched_and_limits"), "last_value was ignored",
           diagnosis="last_value was ignored"),
    Mutant("gae_returns_are_advantages", "4.11", P,
           ((RET, "    return advantages, advantages.copy()\n"),),
           ("gae_hand_computed", "gae_batched_and_limits"), "returns = A + V",
           diagnosis="the returns are the advantages"),
    Mutant("gae_bootstraps_across_ends", "4.11", P,
           ((DELTA, DELTA.replace(" * not_done", "")),
            (REC, REC.replace(" * not_done[..., t]", ""))),
           ("gae_respects_episode_ends", "gae_batched_and_limits"), "across an episode end",
           diagnosis="both the TD residual and the recursion run across"),
    Mutant("gae_recursion_crosses_ends", "4.11", P,
           ((REC, REC.replace(" * not_done[..., t]", "")),),
           ("gae_respects_episode_ends", "gae_batched_and_limits"),
           "the recursion still adds A_{t+1}",
           diagnosis="the recursion runs across an episode end"),
    Mutant("gae_delta_crosses_ends", "4.11", P,
           ((DELTA, DELTA.replace(" * not_done", "")),),
           ("gae_respects_episode_ends",), "still bootstraps",
           diagnosis="the TD residual runs across an episode end"),
    Mutant("gae_done_one_step_late", "4.11", P,
           (("    not_done = 1.0 - dones\n",
             "    not_done = 1.0 - np.concatenate([dones[..., 1:], 0 * dones[..., :1]], "
             "axis=-1)\n"),),
           ("gae_respects_episode_ends",), "one step late",
           diagnosis="done_t is read one step late"),
    Mutant("gae_float64_output", "4.11", P,
           ((ADV0, "    advantages = np.zeros(rewards.shape)\n"),),
           ("gae_batched_and_limits",), "keep the inputs' dtype"),
    # PPO loss
    Mutant("ppo_max_instead_of_min", "4.11", P,
           ((LOSS, LOSS.replace("np.minimum", "np.maximum")),),
           ("ppo_clip_loss_hand_computed", "ppo_clip_loss_mask"), "np.maximum instead",
           diagnosis="np.maximum instead of np.minimum"),
    Mutant("ppo_no_min", "4.11", P,
           ((LOSS, LOSS.replace("np.minimum(unclipped, clipped)", "clipped")),),
           ("ppo_clip_loss_hand_computed",), "without the min",
           diagnosis="only the clipped term"),
    Mutant("ppo_no_clip", "4.11", P,
           ((LOSS, LOSS.replace("np.minimum(unclipped, clipped)", "unclipped")),),
           ("ppo_clip_loss_hand_computed",), "only the unclipped term",
           diagnosis="only the unclipped term"),
    Mutant("ppo_clips_the_product", "4.11", P,
           ((CLIPPED, "    clipped = np.clip(ratio * advantages, 1.0 - clip_eps, "
                      "1.0 + clip_eps)\n"),),
           ("ppo_clip_loss_hand_computed",), "clipped instead of the ratio",
           diagnosis="the product rho * A is clipped"),
    Mutant("ppo_ratio_without_exp", "4.11", P,
           ((RATIO, "    ratio = logp_new - logp_old\n"),),
           ("ppo_clip_loss_hand_computed", "ppo_clip_loss_mask"), "missing its exp",
           diagnosis="the ratio is missing its exp"),
    Mutant("ppo_ratio_inverted", "4.11", P,
           ((RATIO, "    ratio = np.exp(logp_old - logp_new)\n"),),
           ("ppo_clip_loss_hand_computed",), "inverted",
           diagnosis="the ratio is inverted"),
    Mutant("ppo_sum_not_mean", "4.11", P, ((LOSS, LOSS.replace(" / n", "")),),
           ("ppo_clip_loss_hand_computed", "ppo_clip_loss_mask"), "MEAN",
           diagnosis="the loss sums over the tokens"),
    Mutant("ppo_loss_sign", "4.11", P, ((LOSS, LOSS.replace("-np.sum", "np.sum")),),
           ("ppo_clip_loss_hand_computed",), "sign of the loss is flipped",
           diagnosis="the sign of the loss is flipped"),
    # PPO gradient
    Mutant("ppo_grad_flows_through_clip", "4.11", P,
           ((ACTIVE, "    active = np.ones_like(unclipped)\n"),),
           ("ppo_clip_loss_gradient",), "exactly 0 where the min picks the clipped",
           diagnosis="the gradient flows through the clipped tokens"),
    Mutant("ppo_grad_without_ratio", "4.11", P,
           ((GRAD, "    dlogp_new = -mask * active * advantages / n\n"),),
           ("ppo_clip_loss_gradient",), "factor rho of the gradient is missing",
           diagnosis="the factor rho of the gradient is missing"),
    Mutant("ppo_grad_sign", "4.11", P, ((GRAD, GRAD.replace("= -mask", "= mask")),),
           ("ppo_clip_loss_gradient",), "sign of the gradient is flipped",
           diagnosis="the sign of the gradient is flipped"),
    Mutant("ppo_grad_not_divided", "4.11", P, ((GRAD, GRAD.replace(" / n", "")),),
           ("ppo_clip_loss_gradient", "ppo_clip_loss_mask"), "divide by N",
           diagnosis="the gradient is not divided by N"),
    Mutant("ppo_grad_active_where_clipped", "4.11", P,
           ((ACTIVE, "    active = unclipped >= clipped\n"),),
           ("ppo_clip_loss_gradient",), "0 where clipped"),
    # masking
    Mutant("ppo_mask_mean_over_all", "4.11", P, ((N, "    n = mask.size\n"),),
           ("ppo_clip_loss_mask",), "divided by all",
           diagnosis="the mean runs over all positions"),
    Mutant("ppo_mask_ignored_in_loss", "4.11", P,
           ((LOSS, LOSS.replace("mask * ", "")),),
           ("ppo_clip_loss_mask",), "padding must not count"),
    Mutant("ppo_mask_ignored_in_grad", "4.11", P,
           ((GRAD, GRAD.replace("-mask * ", "-1.0 * ")),),
           ("ppo_clip_loss_mask",), "nonzero on padding",
           diagnosis="the gradient is not masked"),
    # KL
    Mutant("kl_k1_sign", "4.11", P, ((K1, "        return log_r\n"),),
           ("kl_penalty_hand_computed", "kl_estimators_are_unbiased"),
           "sign of k1 is flipped", diagnosis="the sign of k1 is flipped"),
    Mutant("kl_k2_without_half", "4.11", P, ((K2, "        return log_r * log_r\n"),),
           ("kl_penalty_hand_computed",), "the half", diagnosis="k2 is missing the half"),
    Mutant("kl_k3_ratio_inverted", "4.11", P,
           ((K3, "    return np.expm1(-log_r) + log_r\n"),),
           ("kl_penalty_hand_computed", "kl_estimators_are_unbiased"), "inverted",
           diagnosis="k3 uses the inverted ratio"),
    Mutant("kl_k3_without_minus_one", "4.11", P,
           ((K3, "    return np.exp(log_r) - log_r\n"),),
           ("kl_penalty_hand_computed", "kl_estimators_are_unbiased"), "k3 = (r - 1) - log r"),
    Mutant("kl_k3_is_k1", "4.11", P, ((K3, "    return -log_r\n"),),
           ("kl_penalty_hand_computed",), "k3 = (r - 1) - log r"),
    # appended bugs (precision, defaults, clip_eps not passed on, stated errors)
    Mutant("kl_k3_without_expm1", "4.11", P, (), ("kl_k3_accurate_near_r_1",),
           "np.expm1(log r) computes r - 1", diagnosis="np.exp(log r) - 1, not np.expm1",
           append=KL_NAIVE_K3),
    Mutant("kl_default_kind_k3", "4.11", P, (), ("kl_penalty_default_is_k1",),
           "the default kind is \"k1\"", diagnosis="the default kind is k3",
           append=KL_DEFAULT_K3),
    Mutant("gae_default_last_value_from_values", "4.11", P, (), ("gae_default_arguments",),
           "the default last_value is 0", diagnosis="the default last_value is values[..., -1]",
           append=GAE_DEFAULT_LAST_VALUE),
    Mutant("ppo_default_clip_eps_0_1", "4.11", P, (), ("ppo_clip_loss_default_arguments",),
           "the default clip_eps is 0.2", diagnosis="the default clip_eps is 0.1",
           append=PPO_DEFAULT_EPS),
    Mutant("ppo_clip_eps_hard_coded", "4.11", P, (), ("ppo_clip_loss_other_clip_eps",),
           "pass clip_eps on to the clip", append=PPO_EPS_HARD_CODED),
    Mutant("ppo_empty_mask_is_zero_loss", "4.11", P, (), ("ppo_refuses_bad_input",),
           "a mask of zeros: expected ValueError", append=PPO_EMPTY_MASK),
]

GAPS: dict[str, str] = {}

DIAGNOSED = [
    ("gae_bootstraps_across_ends", "gae_respects_episode_ends", "across an episode end",
     "forwards"),
    ("ppo_no_min", "ppo_clip_loss_hand_computed", "pessimistic", "np.maximum"),
    ("ppo_max_instead_of_min", "ppo_clip_loss_hand_computed", "pessimistic", "without the min"),
    ("kl_k3_ratio_inverted", "kl_estimators_are_unbiased", "not unbiased", "sign"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# A bug in one function is not reported as a bug of another, correct one.
NOT_BLAMED = [
    ("gae_forward", "ppo_clip_loss_hand_computed", "ppo_clip_loss"),
    ("ppo_grad_flows_through_clip", "ppo_clip_loss_hand_computed", "ppo_clip_loss"),
    ("kl_k1_sign", "gae_hand_computed", "gae"),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.11"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED))
