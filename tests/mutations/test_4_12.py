"""Mutation tests of 4.12 (Sequence log-probabilities and the DPO loss): every check of the
exercise fails on a plausible student bug, and its message names the bug.  The harness and
its conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from llm_common import DPO
from mutation import Mutant, standard_tests

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/

# dpo.py
LOG_SOFTMAX = "    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # log softmax\n"
PICKED = ("    picked = np.take_along_axis(log_probs, tokens[..., None], axis=-1)[..., 0]  "
          "# [B, T]\n")
SEQ_SUM = "    return (picked * mask).sum(axis=-1).astype(logits.dtype)  # [B]\n"
R_W = ("    chosen_rewards = beta * (policy_chosen_logps - ref_chosen_logps)  "
       "# implicit r(x, y_w), [N]\n")
R_L = ("    rejected_rewards = beta * (policy_rejected_logps - ref_rejected_logps)  "
       "# r(x, y_l), [N]\n")
DPO_Z = "    z = chosen_rewards - rejected_rewards  # the reward margin, [N]\n"
DPO_LOSS = "    loss = np.mean(np.logaddexp(0, -z))  # Bradley-Terry on the implicit rewards\n"
DPO_RETURN = "    return (beta * dz).astype(z.dtype), (-beta * dz).astype(z.dtype)\n"

SEQ_VALUES = "sequence_logprob_values"
SEQ_STABLE = "sequence_logprob_large_logits_stable"
DPO_VALUES = "dpo_loss_values"
DPO_STABLE = "dpo_loss_large_margins_stable"
DPO_GRAD = "dpo_backward_d_policy_chosen"
DPO_GRAD_REJECTED = "dpo_backward_d_policy_rejected"
DPO_F32 = "dpo_keeps_float32"
DPO_ERRORS = "dpo_refuses_bad_input"


def dpo(id, edits, catches, phrase, status="failed", diagnosis="", append=""):
    return Mutant(id, "4.12", DPO, edits, catches, phrase, status, append=append,
                  diagnosis=diagnosis)


SEQ_PADS_TOKENS_IN_PLACE = """
_sequence_logprob = sequence_logprob

def sequence_logprob(logits, tokens, mask):
    tokens[np.asarray(mask) == 0] = 0  # "pad with a valid id", written into the caller's ids
    return _sequence_logprob(logits, tokens, mask)
"""

DPO_NO_VALIDATION = """
def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps,
             beta):  # the given checks dropped: beta <= 0 accepted
    z = beta * ((np.asarray(policy_chosen_logps) - ref_chosen_logps)
                - (np.asarray(policy_rejected_logps) - ref_rejected_logps))
    return np.mean(np.logaddexp(0, -z)), (z, beta)
"""

DPO_BACKWARD_DLOSS_1 = """
_dpo_loss_backward = dpo_loss_backward

def dpo_loss_backward(dloss, cache):  # the upstream gradient taken to be 1
    return _dpo_loss_backward(1.0, cache)
"""

DPO_BACKWARD_REJECTED_SIGN = """
_dpo_loss_backward = dpo_loss_backward

def dpo_loss_backward(dloss, cache):  # d_policy_rejected = d_policy_chosen: a sign dropped
    d_chosen, _ = _dpo_loss_backward(dloss, cache)
    return d_chosen, d_chosen.copy()
"""

MUTANTS = [
    dpo("seq_mask_ignored", ((SEQ_SUM, SEQ_SUM.replace("(picked * mask)", "picked")),),
        (SEQ_VALUES,), "mask is ignored", diagnosis="the mask is ignored"),
    dpo("seq_shifted_by_one", ((PICKED, PICKED.replace("log_probs, tokens[..., None]",
                                                       "log_probs[:, :-1], tokens[:, 1:, None]")),
                               (SEQ_SUM, SEQ_SUM.replace("mask)", "mask[:, 1:])"))),
        (SEQ_VALUES,), "shifted by one", diagnosis="shifted by one"),
    dpo("seq_probabilities", ((LOG_SOFTMAX, "    log_probs = np.exp(z) / np.exp(z).sum(axis=-1, "
                                            "keepdims=True)\n"),),
        (SEQ_VALUES,), "LOG-softmax", diagnosis="sums of probabilities"),
    dpo("seq_mean_over_tokens", ((SEQ_SUM, SEQ_SUM.replace(".sum(axis=-1)",
                                                           ".sum(axis=-1) / mask.sum(axis=-1)")),),
        (SEQ_VALUES,), "SUM of its tokens",
        diagnosis="a mean over the masked positions"),
    dpo("seq_raw_logits", ((PICKED, PICKED.replace("(log_probs,", "(logits,")),),
        (SEQ_VALUES,), "not normalised", diagnosis="not normalised"),
    dpo("seq_log_of_softmax", ((LOG_SOFTMAX, "    log_probs = np.log(np.exp(logits) / "
                                             "np.exp(logits).sum(axis=-1, keepdims=True))\n"),),
        (SEQ_STABLE,), "overflow"),
    dpo("seq_float64_out", ((SEQ_SUM, SEQ_SUM.replace(".astype(logits.dtype)", "")),),
        (SEQ_STABLE,), "dtype"),
    dpo("dpo_chosen_rejected_swapped", ((DPO_Z, DPO_Z.replace(
        "chosen_rewards - rejected_rewards", "rejected_rewards - chosen_rewards")),),
        (DPO_VALUES,), "wrong sign", diagnosis="the margin has the wrong sign"),
    dpo("dpo_reference_in_place_of_policy", (
        (R_W, R_W.replace("policy_chosen_logps - ref_chosen_logps",
                          "ref_chosen_logps - policy_chosen_logps")),
        (R_L, R_L.replace("policy_rejected_logps - ref_rejected_logps",
                          "ref_rejected_logps - policy_rejected_logps"))),
        (DPO_VALUES,), "policy and the reference",
        diagnosis="the margin has the wrong sign"),
    dpo("dpo_reference_added", ((R_W, R_W.replace("- ref_chosen", "+ ref_chosen")),
                                (R_L, R_L.replace("- ref_rejected", "+ ref_rejected"))),
        (DPO_VALUES,), "ADDED", diagnosis="ADDED, or paired crosswise"),
    dpo("dpo_reference_crosswise", ((R_W, R_W.replace("- ref_chosen", "- ref_rejected")),
                                    (R_L, R_L.replace("- ref_rejected", "- ref_chosen"))),
        (DPO_VALUES,), "paired crosswise",
        diagnosis="ADDED, or paired crosswise"),
    dpo("dpo_beta_outside_sigmoid", ((R_W, R_W.replace("beta * ", "")),
                                     (R_L, R_L.replace("beta * ", "")),
                                     (DPO_LOSS, DPO_LOSS.replace("np.mean", "beta * np.mean"))),
        (DPO_VALUES,), "outside the sigmoid",
        diagnosis="beta is outside the sigmoid"),
    dpo("dpo_beta_divides", ((R_W, R_W.replace("beta * (", "(1 / beta) * (")),
                             (R_L, R_L.replace("beta * (", "(1 / beta) * ("))),
        (DPO_VALUES,), "divides", diagnosis="beta divides the margin"),
    dpo("dpo_no_reference", ((R_W, R_W.replace(" - ref_chosen_logps", "")),
                             (R_L, R_L.replace(" - ref_rejected_logps", ""))),
        (DPO_VALUES,), "reference model is ignored",
        diagnosis="the reference model is ignored"),
    dpo("dpo_sum_not_mean", ((DPO_LOSS, DPO_LOSS.replace("np.mean", "np.sum")),),
        (DPO_VALUES,), "SUM", diagnosis="the SUM over the pairs"),
    dpo("dpo_log_of_sigmoid", ((DPO_LOSS, "    loss = np.mean(-np.log(1 / (1 + np.exp(-z))))\n"),),
        (DPO_STABLE,), "logaddexp"),
    dpo("dpo_loss_in_float64", ((DPO_LOSS, DPO_LOSS.replace("-z))",
                                                            "-z.astype(np.float64)))")),),
        (DPO_F32,), "keep the inputs' dtype"),
    dpo("dpo_backward_sign", ((DPO_RETURN, "    return (-beta * dz).astype(z.dtype), "
                                           "(beta * dz).astype(z.dtype)\n"),),
        (DPO_GRAD, DPO_GRAD_REJECTED, DPO_STABLE), "wrong sign",
        diagnosis="has the wrong sign"),
    dpo("dpo_backward_no_beta", ((DPO_RETURN, "    return dz.astype(z.dtype), "
                                              "(-dz).astype(z.dtype)\n"),),
        (DPO_GRAD, DPO_GRAD_REJECTED, DPO_STABLE), "missing the factor beta",
        diagnosis="is missing the factor beta"),
    dpo("dpo_backward_beta_squared", ((DPO_RETURN, DPO_RETURN.replace("beta * dz",
                                                                      "beta * beta * dz")),),
        (DPO_GRAD, DPO_GRAD_REJECTED), "beta twice", diagnosis="has beta twice"),
    dpo("dpo_backward_sum", (("    dz = -dloss * sigma_neg / z.size  # d mean",
                              "    dz = -dloss * sigma_neg  # d mean"),),
        (DPO_GRAD, DPO_GRAD_REJECTED), "4 times", diagnosis="is missing the 1/N of the mean"),
    # appended bugs (ids changed in place, stated errors, upstream gradient, one
    # gradient of two wrong)
    dpo("seq_pads_tokens_in_place", (), (SEQ_VALUES,), "modified one of its inputs in place",
        append=SEQ_PADS_TOKENS_IN_PLACE),
    dpo("dpo_no_validation", (), (DPO_ERRORS,), "beta = 0.0: expected ValueError",
        append=DPO_NO_VALIDATION),
    dpo("dpo_backward_dloss_taken_as_1", (), (DPO_GRAD, DPO_GRAD_REJECTED),
        "multiply by the upstream gradient", diagnosis="ignores the upstream gradient dloss",
        append=DPO_BACKWARD_DLOSS_1),
    dpo("dpo_backward_rejected_sign", (), (DPO_GRAD_REJECTED,), "wrong sign",
        diagnosis="d_policy_rejected has the wrong sign", append=DPO_BACKWARD_REJECTED_SIGN),
]

GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.12"], MUTANTS, gaps=GAPS))
