"""Mutation tests of 1.1 (Stable softmax): every check of the exercise fails on a plausible
student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from self_attention_common import F32, S

from grader.course import SELF_ATTENTION

PACKAGE = SELF_ATTENTION.package  # mutants edit files of reference/self_attention/

# Lines of the reference solutions, quoted exactly.
SM_MAX = "    x_max = np.max(x, axis=axis, keepdims=True)\n"
SM_GUARD = "    x_max = np.where(np.isneginf(x_max), 0, x_max)\n"
SM_EXP = ("    e = x - x_max  # a new array (x is not modified), exponentiated in place\n"
          "    np.exp(e, out=e)\n")
SM_SUM = "    total = np.sum(e, axis=axis, keepdims=True)\n"

MUTANTS = [
    Mutant("softmax_no_max", "1.1", S, ((SM_EXP, "    e = np.exp(x)\n"),),
           ("softmax_stable_and_masked",), "subtract the maximum",
           diagnosis="exp overflows: the row's maximum is not subtracted"),
    Mutant("softmax_axis_hardcoded", "1.1", S,
           ((SM_MAX, SM_MAX.replace("axis=axis", "axis=-1")),
            (SM_SUM, SM_SUM.replace("axis=axis", "axis=-1"))),
           ("softmax_values",), "normalises over axis -1",
           diagnosis="it normalises over axis -1"),
    Mutant("softmax_in_place", "1.1", S, ((SM_EXP, "    x -= x_max\n    e = np.exp(x)\n"),),
           ("softmax_values", "softmax_invariants"), "in place"),
    Mutant("softmax_all_neginf_row_nan", "1.1", S, ((SM_GUARD, ""),),
           ("softmax_stable_and_masked",), "all -inf row must give zeros"),
    Mutant("softmax_float64", "1.1", S,
           ((SM_MAX, "    x = np.asarray(x, dtype=np.float64)\n" + SM_MAX),),
           ("softmax_invariants",), F32),
    Mutant("softmax_default_axis_0", "1.1", S, (), ("softmax_default_axis",),
           "the default must be the last axis", append="_softmax = softmax\n"
           "def softmax(x, axis=0):\n    return _softmax(x, axis)\n"),
    # Off by 1e-4: the sums are printed with enough digits to show it.
    Mutant("softmax_off_by_1e-4", "1.1", S, (),
           ("softmax_values", "softmax_stable_and_masked", "softmax_invariants"),
           "[1.0001, 1.0001]", append="_softmax = softmax\n"
           "def softmax(x, axis=-1):\n    return _softmax(x, axis) * 1.0001\n"),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.1"], MUTANTS))
