"""Mutation tests of 5.5 (GRPO): every check of the exercise fails on a plausible student bug,
and its message names the bug.  The harness and its conventions: `tests/mutation.py`.
"""

from __future__ import annotations

import numpy as np
from mutation import Mutant, standard_tests

from grader.checks.modern import ex5_5_grpo as checks
from grader.course import MODERN

PACKAGE = MODERN.package  # mutants edit reference/modern/grpo.py
GRPO = "grpo.py"

# grpo.py, the lines the edits replace
GROUPS = ("    groups = rewards.reshape(-1, int(group_size))  # (G, group_size): one prompt per "
          "row\n")
STD = "    std = groups.std(axis=1, ddof=1, keepdims=True)  # the sample std, as TRL\n"
ADV = "    advantages = centred / (std + eps)\n"
ZEROS = "    advantages[np.ptp(groups, axis=1) == 0] = 0.0\n"
ADV_RETURN = "    return advantages.reshape(rewards.shape).astype(rewards.dtype, copy=False)\n"
GROUP_SIZE_CHECK = "    if int(group_size) != group_size or group_size < 2:\n"
RATIO = "    ratio = np.exp(logp_new - logp_old)\n"
CLIPPED = "    clipped = np.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages\n"
LOG_R = "    log_r = logp_ref - logp_new\n"
K3 = "    k3 = np.expm1(log_r) - log_r  # exp(log r) - 1 - log r, accurate for r near 1\n"
PER_TOKEN = "    per_token = -np.minimum(unclipped, clipped) + beta * k3\n"
SEQUENCE = '    if normalize == "sequence":  # weight 1 / (B n_b) for each token of completion b\n'
LENGTHS = "        lengths = np.maximum(mask.sum(axis=1, keepdims=True), 1.0)\n"
ACTIVE = "    active = unclipped <= clipped\n"
CACHE = "    cache = (weights, active, unclipped, log_r, beta, logp_new.dtype)\n"
EMPTY_MASK = ('    if not mask.sum() > 0:\n'
              '        raise ValueError(f"{where}: the mask selects no token (mask.sum() == 0)")\n')
DK3 = ("    dk3 = -np.expm1(log_r)  # d/dlogp_new of exp(log r) - 1 - log r, with log r = ref "
       "- new\n")
DPER_TOKEN = "    dper_token = -(active * unclipped) + beta * dk3\n"
GRAD = "    return (dloss * weights * dper_token).astype(dtype, copy=False)\n"

ADV_VALUES = "group_advantages_values"
ADV_EQUAL = "group_advantages_equal_rewards_give_zero"
HAND = "grpo_loss_hand_computed"
TOKEN = "grpo_loss_token_normalization"
RANDOM = "grpo_loss_random_batches"
OPTIONS = "grpo_loss_defaults_and_options"
BACK_HAND = "grpo_loss_backward_hand_case"
BACK_RANDOM = "grpo_loss_backward_random"
F32 = "grpo_keeps_float32"
ERRORS = "grpo_refuses_bad_input"


def grpo(id, edits, catches, phrase, status="failed", diagnosis="", append=""):
    return Mutant(id, "5.5", GRPO, edits, catches, phrase, status, append=append,
                  diagnosis=diagnosis)


def line(old, new):
    return ((old, new),)


MUTANTS = [
    # group_advantages
    grpo("adv_population_std", line(STD, STD.replace("ddof=1", "ddof=0")), (ADV_VALUES,),
         "sample standard deviation", diagnosis="the population std (ddof=0)"),
    grpo("adv_one_batch_group", line(GROUPS, "    groups = rewards.reshape(1, -1)\n"),
         (ADV_VALUES, ADV_EQUAL), "consecutive rewards form a group",
         diagnosis="the whole batch is one group"),
    grpo("adv_groups_swapped",
         line(GROUPS, "    groups = rewards.reshape(int(group_size), -1)\n"), (ADV_VALUES,),
         "reshape(-1, group_size)", diagnosis="the reshape makes group_size groups"),
    grpo("adv_not_divided_by_std", line(ADV, "    advantages = centred\n"), (ADV_VALUES,),
         "A = (r - m) / (s + eps)", diagnosis="not divided by the std"),
    grpo("adv_without_eps", line(ADV, "    advantages = centred / std\n"), (ADV_VALUES,),
         "A = (r - m) / (s + eps)", diagnosis="eps is missing from the denominator"),
    grpo("adv_eps_in_sqrt", line(ADV, "    advantages = centred / np.sqrt(std ** 2 + eps)\n"),
         (ADV_VALUES,), "A = (r - m) / (s + eps)",
         diagnosis="eps is added to the variance"),
    grpo("adv_fixed_eps", line(ADV, "    advantages = centred / (std + 1e-4)\n"),
         (ADV_VALUES,), "Use the eps that is passed"),
    grpo("adv_equal_groups_nan", ((ADV, "    advantages = centred / std\n"), (ZEROS, "")),
         (ADV_EQUAL,), "their std is 0"),
    grpo("adv_float64",
         ((GROUPS, "    groups = np.asarray(rewards, dtype=float).reshape(-1, int(group_size))"
                   "\n"),
          (ADV_RETURN, "    return advantages.reshape(rewards.shape)\n")),
         (F32,), "keep the rewards' dtype"),
    grpo("adv_no_group_size_check", line(GROUP_SIZE_CHECK, "    if False:\n"), (ERRORS,),
         "expected ValueError"),
    # grpo_loss
    grpo("loss_normalizations_swapped",
         line(SEQUENCE, SEQUENCE.replace('== "sequence"', '== "token"')),
         (HAND, TOKEN, RANDOM, OPTIONS), "averages each completion over its own tokens",
         diagnosis="the other normalisation is used"),
    grpo("loss_mask_ignored",
         line(RATIO, RATIO + "    mask = np.ones_like(mask)\n"), (HAND, TOKEN, RANDOM),
         "multiply the per-token loss by the mask", diagnosis="the mask is ignored"),
    grpo("loss_divided_by_T",
         line(LENGTHS, "        lengths = np.full((mask.shape[0], 1), float(mask.shape[1]))\n"),
         (HAND, RANDOM), "over its n_b", diagnosis="divided by T, not by its own length"),
    grpo("loss_max", line(PER_TOKEN, PER_TOKEN.replace("np.minimum", "np.maximum")),
         (HAND, TOKEN, RANDOM), "pessimistic", diagnosis="np.maximum instead of np.minimum"),
    grpo("loss_no_clip", line(CLIPPED, "    clipped = ratio * advantages\n"),
         (HAND, TOKEN), "clip(rho, 1 - clip_eps, 1 + clip_eps)",
         diagnosis="the ratio is not clipped"),
    grpo("loss_surrogate_sign",
         line(PER_TOKEN, "    per_token = np.minimum(unclipped, clipped) + beta * k3\n"),
         (HAND, TOKEN, RANDOM), "MINUS the surrogate",
         diagnosis="the sign of the surrogate is flipped"),
    grpo("loss_ratio_inverted", line(RATIO, "    ratio = np.exp(logp_old - logp_new)\n"),
         (HAND, TOKEN, RANDOM), "pi_new / pi_old", diagnosis="the ratio is inverted"),
    grpo("loss_kl_subtracted", line(PER_TOKEN, PER_TOKEN.replace("+ beta", "- beta")),
         (HAND, TOKEN, RANDOM), "a penalty", diagnosis="the KL term is subtracted"),
    grpo("loss_k3_reversed", line(LOG_R, "    log_r = logp_new - logp_ref\n"),
         (HAND, TOKEN, RANDOM), "KL(pi_new || pi_ref)",
         diagnosis="k3 uses logp_new - logp_ref"),
    grpo("loss_k1", line(K3, "    k3 = -log_r\n"), (HAND, TOKEN, RANDOM), "which is >= 0",
         diagnosis="the KL term is k1"),
    grpo("loss_clip_eps_fixed",
         line(CLIPPED, "    clipped = np.clip(ratio, 0.8, 1.2) * advantages\n"), (OPTIONS,),
         "Use the clip_eps and beta that are passed"),
    grpo("loss_no_empty_mask_check", line(EMPTY_MASK, ""), (ERRORS,), "expected ValueError"),
    # grpo_loss_backward
    grpo("grad_ignores_dloss", line(GRAD, GRAD.replace("dloss * ", "")),
         (BACK_HAND, BACK_RANDOM), "multiply the whole gradient by dloss",
         diagnosis="the upstream gradient dloss is not multiplied in"),
    grpo("grad_through_clip", line(ACTIVE, "    active = np.ones(unclipped.shape, bool)\n"),
         (BACK_HAND, BACK_RANDOM), "exactly 0 there",
         diagnosis="the gradient flows through the clipped tokens"),
    grpo("grad_without_rho",
         line(CACHE, CACHE.replace("unclipped, log_r", "unclipped / ratio, log_r")),
         (BACK_HAND, BACK_RANDOM), "d(rho A)/d logp_new = rho A",
         diagnosis="the factor rho of the surrogate's gradient is missing"),
    grpo("grad_kl_sign", line(DK3, "    dk3 = np.expm1(log_r)\n"), (BACK_HAND, BACK_RANDOM),
         "1 - exp(logp_ref - logp_new)", diagnosis="the sign of the KL gradient is flipped"),
    grpo("grad_no_kl", line(DPER_TOKEN, "    dper_token = -(active * unclipped)\n"),
         (BACK_HAND, BACK_RANDOM), "weighted as the loss",
         diagnosis="the KL term's gradient is missing"),
    grpo("grad_float64", line(GRAD, GRAD.replace("astype(dtype, copy=False)",
                                                 "astype(np.float64)")),
         (F32,), "float32 in, float32 out"),
]

GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["5.5"], MUTANTS, gaps=GAPS))


def test_check_inputs_stay_away_from_the_clip_edges():
    """No step of the finite differences (1e-6) can cross a kink of the clipped surrogate."""
    for seed in (11, 12, 55):
        for per_token in (False, True):
            new, old, *_ = checks._case(seed=seed, per_token_adv=per_token)
            ratio = np.exp(new - old)
            assert np.min(np.abs(ratio - (1 - checks.EPS))) > 0.04
            assert np.min(np.abs(ratio - (1 + checks.EPS))) > 0.04


def test_hand_case_numbers():
    """The comments' hand-computed values are the grader's formula's."""
    args = (checks.HAND_NEW, checks.HAND_OLD, checks.HAND_REF, checks.HAND_ADV, checks.HAND_MASK)
    assert abs(checks._loss(*args) - 0.12433799) < 1e-8
    assert abs(checks._loss(*args, normalize="token") - -0.08386294) < 1e-8
