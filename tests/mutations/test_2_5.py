"""Mutation tests of 2.5 (ALiBi slopes and bias): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from positional_encoding_common import AL

from grader.course import POSITIONAL_ENCODING

PACKAGE = POSITIONAL_ENCODING.package  # mutants edit files of reference/positional_encoding/

POW2 = "        return 2.0 ** (-8.0 * np.arange(1, n + 1) / n)\n"
EXTRA = ("    extra = power_of_two_slopes(2 * m)[0::2][: n_heads - m]"
         "  # empty when n_heads == m\n")
SLOPES = "    return np.concatenate([power_of_two_slopes(m), extra])\n"
QPOS = "    i = np.arange(t_q)[:, None] + (t_k - t_q)  # (t_q, 1) absolute query positions\n"
BIAS = ("    return slopes[:, None, None] * (j - i)[None, :, :]"
        "  # -slope * (i - j): (H, t_q, t_k)\n")

BIAS_NO_CHECK = """
def alibi_bias(n_heads, t_q, t_k):  # a rewrite without the given size checks
    i = np.arange(t_q)[:, None] + (t_k - t_q)
    return alibi_slopes(n_heads)[:, None, None] * (np.arange(t_k)[None, :] - i)[None]
"""
SLOPES_NO_CHECK = """
def alibi_slopes(n_heads):  # a rewrite without the given check, m from a float log2
    def power_of_two_slopes(n):
        return 2.0 ** (-8.0 * np.arange(1, n + 1) / n)
    m = 2 ** int(np.floor(np.log2(n_heads)))
    return np.concatenate([power_of_two_slopes(m), power_of_two_slopes(2 * m)[0::2][: n_heads - m]])
"""

MUTANTS = [
    Mutant("alibi_naive_slopes_for_all_n", "2.5", AL,
           ((SLOPES, "    return power_of_two_slopes(n_heads)\n"),),
           ("alibi_slopes_values", "alibi_bias_values"), "not a power of two",
           diagnosis="the power-of-two formula 2^(-8h/n) is used"),
    Mutant("alibi_odd_slopes_of_2m", "2.5", AL, ((EXTRA, EXTRA.replace("[0::2]", "[1::2]")),),
           ("alibi_slopes_values", "alibi_bias_values"), "[1::2] instead of [0::2]",
           diagnosis="odd positions of slopes(2m)"),
    Mutant("alibi_slopes_h_from_zero", "2.5", AL,
           ((POW2, POW2.replace("np.arange(1, n + 1)", "np.arange(n)")),),
           ("alibi_slopes_values", "alibi_bias_values"), "2^(-8h/n) for h = 1..n",
           diagnosis="h counts from 0 instead of 1"),
    Mutant("alibi_bias_off_by_one", "2.5", AL,  # "the last key is at t_k - 1"
           ((QPOS, "    i = np.arange(t_q)[:, None] + (t_k - t_q - 1)\n"),),
           ("alibi_bias_values",), "off by one position",
           diagnosis="the query positions are off by one"),
    Mutant("alibi_bias_top_left", "2.5", AL, ((QPOS, "    i = np.arange(t_q)[:, None]\n"),),
           ("alibi_bias_values",), "top-left aligned",
           diagnosis="query i is placed at position i"),
    Mutant("alibi_bias_sign", "2.5", AL, ((BIAS, BIAS.replace("(j - i)", "(i - j)")),),
           ("alibi_bias_values",), "wrong sign", diagnosis="the bias is +slope (i - j)"),
    Mutant("alibi_bias_abs_distance", "2.5", AL,  # future keys penalised too
           ((BIAS, "    return -slopes[:, None, None] * np.abs(j - i)[None, :, :]\n"),),
           ("alibi_bias_values",), "is wrong at index"),
    # -- stated errors: rewrites that dropped the given size checks --
    Mutant("alibi_bias_no_size_check", "2.5", AL, (), ("alibi_bad_sizes",),
           "alibi_bias(2, -1, 3): expected ValueError", append=BIAS_NO_CHECK),
    Mutant("alibi_slopes_no_check", "2.5", AL, (), ("alibi_bad_sizes",),
           "alibi_slopes(0): expected ValueError, but OverflowError", append=SLOPES_NO_CHECK),
]

# Mutants no check catches yet (real gaps of the grader, reported, not weakened); none now.
GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("alibi_naive_slopes_for_all_n", "alibi_slopes_values", "slopes(2m)[0::2]", ""),
    ("alibi_bias_top_left", "alibi_bias_values", "i + t_k - t_q", "off by one"),
    ("alibi_bias_off_by_one", "alibi_bias_values", "off by one", "top-left"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["2.5"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, blame_gaps=BLAME_GAPS))
