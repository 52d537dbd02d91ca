"""Mutation tests of 4.10 (Bradley-Terry reward-model loss): every check of the exercise
fails on a plausible student bug, and its message names the bug.  The harness and its
conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from llm_common import REWARD
from mutation import Mutant, standard_tests

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/

# reward.py
BT_Z = "    z = r_chosen - r_rejected  # the margin, [N]\n"
BT_LOSS = ("    loss = np.mean(np.logaddexp(0, -z))  # -log sigma(z) = log(1 + e^-z), finite for "
           "all z\n")
SIGMA_NEG = ("    sigma_neg = np.exp(-np.logaddexp(0, z))  # sigma(-z) = 1 / (1 + e^z), no "
             "overflow\n")
DZ = "    dz = -dloss * sigma_neg / z.size  # d mean(-log sigma(z)) / dz, [N]\n"

BT_VALUES = "bradley_terry_loss_values"
BT_STABLE = "bradley_terry_loss_large_rewards_stable"
BT_GRAD = "bradley_terry_backward_dr_chosen"
BT_GRAD_REJECTED = "bradley_terry_backward_dr_rejected"
BT_F32 = "bradley_terry_keeps_float32"
BT_ERRORS = "bradley_terry_refuses_bad_input"


def bt(id, edits, catches, phrase, status="failed", diagnosis="", append=""):
    return Mutant(id, "4.10", REWARD, edits, catches, phrase, status, append=append,
                  diagnosis=diagnosis)


BT_NO_VALIDATION = """
def bradley_terry_loss(r_chosen, r_rejected):  # as_rewards skipped: shapes broadcast
    z = np.asarray(r_chosen) - np.asarray(r_rejected)
    return np.mean(np.logaddexp(0, -z)), z
"""

BT_BACKWARD_DLOSS_1 = """
_bt_backward = bradley_terry_loss_backward

def bradley_terry_loss_backward(dloss, cache):  # the upstream gradient taken to be 1
    return _bt_backward(1.0, cache)
"""

BT_BACKWARD_REJECTED_SIGN = """
_bt_backward = bradley_terry_loss_backward

def bradley_terry_loss_backward(dloss, cache):  # dr_rejected = dr_chosen: a sign dropped
    dr_chosen, _ = _bt_backward(dloss, cache)
    return dr_chosen, dr_chosen.copy()
"""

MUTANTS = [
    bt("bt_chosen_rejected_swapped", ((BT_Z, BT_Z.replace("r_chosen - r_rejected",
                                                          "r_rejected - r_chosen")),),
       (BT_VALUES,), "swapped", diagnosis="chosen and rejected are swapped"),
    bt("bt_sum_not_mean", ((BT_LOSS, BT_LOSS.replace("np.mean", "np.sum")),),
       (BT_VALUES,), "SUM", diagnosis="the loss sums over the pairs"),
    bt("bt_log_of_sigmoid", ((BT_LOSS, "    loss = np.mean(-np.log(1 / (1 + np.exp(-z))))\n"),),
       (BT_STABLE,), "logaddexp"),
    bt("bt_loss_in_float64", ((BT_LOSS, BT_LOSS.replace("-z))", "-z.astype(np.float64)))")),),
       (BT_F32,), "keep the inputs' dtype"),
    bt("bt_backward_sign", ((DZ, DZ.replace("-dloss", "dloss")),),
       (BT_GRAD, BT_GRAD_REJECTED, BT_STABLE), "wrong sign", diagnosis="has the wrong sign"),
    bt("bt_backward_sum", ((DZ, DZ.replace(" / z.size", "")),), (BT_GRAD, BT_GRAD_REJECTED),
       "4 times", diagnosis="is missing the 1/N of the mean"),
    bt("bt_backward_ignores_dloss", ((DZ, DZ.replace("-dloss", "-1.0")),),
       (BT_GRAD, BT_GRAD_REJECTED), "multiply by the upstream gradient",
       diagnosis="ignores the upstream gradient dloss"),
    bt("bt_backward_sigma_of_z", ((SIGMA_NEG, SIGMA_NEG.replace("(0, z)", "(0, -z)")),),
       (BT_GRAD, BT_GRAD_REJECTED, BT_STABLE), "finite differences"),
    # appended bugs (stated errors, upstream gradient, one gradient of two wrong)
    bt("bt_no_validation", (), (BT_ERRORS,), "(which broadcast): expected ValueError",
       append=BT_NO_VALIDATION),
    bt("bt_backward_dloss_taken_as_1", (), (BT_GRAD, BT_GRAD_REJECTED),
       "multiply by the upstream gradient", diagnosis="ignores the upstream gradient dloss",
       append=BT_BACKWARD_DLOSS_1),
    bt("bt_backward_rejected_sign", (), (BT_GRAD_REJECTED,), "wrong sign",
       diagnosis="dr_rejected has the wrong sign", append=BT_BACKWARD_REJECTED_SIGN),
]

GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.10"], MUTANTS, gaps=GAPS))
