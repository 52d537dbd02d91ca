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
BT_GRAD = "bradley_terry_backward_finite_differences"

def bt(id, edits, catches, phrase, status="failed"):
    return Mutant(id, "4.10", REWARD, edits, catches, phrase, status)

MUTANTS = [
    bt("bt_chosen_rejected_swapped", ((BT_Z, BT_Z.replace("r_chosen - r_rejected",
                                                          "r_rejected - r_chosen")),),
       (BT_VALUES,), "swapped"),
    bt("bt_sum_not_mean", ((BT_LOSS, BT_LOSS.replace("np.mean", "np.sum")),),
       (BT_VALUES,), "SUM"),
    bt("bt_log_of_sigmoid", ((BT_LOSS, "    loss = np.mean(-np.log(1 / (1 + np.exp(-z))))\n"),),
       (BT_STABLE,), "logaddexp"),
    bt("bt_loss_in_float64", ((BT_LOSS, BT_LOSS.replace("-z))", "-z.astype(np.float64)))")),),
       (BT_GRAD,), "keep the inputs' dtype"),
    bt("bt_backward_sign", ((DZ, DZ.replace("-dloss", "dloss")),), (BT_GRAD, BT_STABLE),
       "wrong sign"),
    bt("bt_backward_sum", ((DZ, DZ.replace(" / z.size", "")),), (BT_GRAD,), "4 times"),
    bt("bt_backward_ignores_dloss", ((DZ, DZ.replace("-dloss", "-1.0")),), (BT_GRAD,),
       "ignores dloss"),
    bt("bt_backward_sigma_of_z", ((SIGMA_NEG, SIGMA_NEG.replace("(0, z)", "(0, -z)")),),
       (BT_GRAD, BT_STABLE), "finite differences"),
]

GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.10"], MUTANTS, gaps=GAPS))
