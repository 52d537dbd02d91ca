"""Mutation tests of 3.3 (ReLU, GELU, SiLU): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from transformer_common import AC

from grader.course import TRANSFORMER

PACKAGE = TRANSFORMER.package  # mutants edit files of reference/transformer/

RELU_CACHE = '    return out, {"positive": x > 0}\n'
RELU_BWD = '    return np.where(cache["positive"], dout, 0)\n'
GELU_BRANCH = '    if approximate == "tanh":\n'
GELU_BUFFERS = "        t, out = np.empty(np.shape(x), x.dtype), np.empty(np.shape(x), x.dtype)\n"
GELU_DU = ("            du_dx = xb * xb\n"
           "            du_dx *= 3.0 * GELU_TANH_COEF\n"
           "            du_dx += 1.0\n"
           "            du_dx *= SQRT_2_OVER_PI  # du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)\n")
GELU_EXACT_BWD = '    return dout * (cache["cdf"] + x * pdf)\n'
SILU_SIG = "    sigmoid = np.where(x >= 0, 1.0, e) / (1.0 + e)\n"
SILU_BWD = "    return dout * (s * (1.0 + x * (1.0 - s)))\n"

IGNORES_DOUT = "ignores the upstream gradient dout"

# Code appended to activations.py: each wraps or replaces one function.
GELU_DEFAULT_EXACT = """
_gelu = gelu
def gelu(x, approximate="none"):  # PyTorch's default, not GPT-2's
    return _gelu(x, approximate)
"""
GELU_NO_FORM_CHECK = """
_gelu = gelu
def gelu(x, approximate="tanh"):  # anything but "tanh" taken as the exact form
    return _gelu(x, "tanh" if approximate == "tanh" else "none")
"""
RELU_BWD_IGNORES_DOUT = """
def relu_backward(dout, cache):
    return cache["positive"].astype(dout.dtype)
"""
GELU_BWD_IGNORES_DOUT = """
_gelu_backward = gelu_backward
def gelu_backward(dout, cache):
    return _gelu_backward(np.ones_like(dout), cache)
"""
RELU_BWD_IN_PLACE = """
def relu_backward(dout, cache):  # zeroes dout itself
    dout[~cache["positive"]] = 0
    return dout
"""

MUTANTS = [
    Mutant("gelu_forms_swapped", "3.3", AC,
           ((GELU_BRANCH, GELU_BRANCH.replace('"tanh"', '"none"')),),
           ("activation_values",), "computes the other GELU",
           diagnosis="computes the other GELU"),
    Mutant("relu_grad_one_at_zero", "3.3", AC,
           ((RELU_CACHE, '    return out, {"positive": x >= 0}\n'),),
           ("activation_backward_values",), "passes the gradient at x == 0",
           diagnosis="relu_backward passes the gradient at x == 0"),
    Mutant("relu_bwd_float_mask", "3.3", AC,  # mask.astype(float) promotes float32
           ((RELU_BWD, '    return dout * cache["positive"].astype(float)\n'),),
           ("activation_float32",), "relu_backward of float32 input has dtype float64"),
    Mutant("gelu_tanh_bwd_missing_cubic", "3.3", AC,
           ((GELU_DU, "            du_dx = SQRT_2_OVER_PI\n"),),
           ("activation_backward_values",), "gelu_tanh_backward is wrong"),
    Mutant("gelu_exact_bwd_missing_pdf", "3.3", AC,
           ((GELU_EXACT_BWD, '    return dout * cache["cdf"]\n'),),
           ("activation_backward_values",), "lacks the term x * phi(x)",
           diagnosis="gelu_backward (exact form) lacks the term x * phi(x)"),
    Mutant("gelu_buffers_float64", "3.3", AC,  # np.empty without a dtype is float64
           ((GELU_BUFFERS, "        t, out = np.empty(np.shape(x)), np.empty(np.shape(x))\n"),),
           ("activation_float32",), "gelu of float32 input has dtype float64"),
    Mutant("silu_naive_sigmoid", "3.3", AC,  # exp(-x) overflows (and warns) for x < -709
           ((SILU_SIG, "    sigmoid = 1.0 / (1.0 + np.exp(-x))\n"),),
           ("activation_float32",), "overflow"),
    Mutant("silu_bwd_missing_term", "3.3", AC,  # only the sigmoid, not x * sigmoid'
           ((SILU_BWD, "    return dout * s\n"),),
           ("activation_backward_values",), "silu_backward lacks the term x * sigmoid'(x)",
           diagnosis="silu_backward lacks the term x * sigmoid'(x)"),
    Mutant("silu_bwd_sigmoid_derivative_only", "3.3", AC,
           ((SILU_BWD, "    return dout * (x * s * (1.0 - s))\n"),),
           ("activation_backward_values",), "silu_backward lacks the term sigmoid(x)",
           diagnosis="silu_backward lacks the term sigmoid(x)"),
    # defaults, stated errors, upstream gradient, purity
    Mutant("gelu_default_exact", "3.3", AC, (), ("gelu_default_form",),
           "the default must be approximate='tanh'", append=GELU_DEFAULT_EXACT,
           diagnosis="gelu's default is the exact form"),
    Mutant("gelu_no_form_check", "3.3", AC, (), ("gelu_unknown_form",),
           "approximate='exact'): expected ValueError", append=GELU_NO_FORM_CHECK),
    Mutant("relu_bwd_ignores_dout", "3.3", AC, (), ("activation_backward_values",),
           "relu_backward ignores the upstream gradient dout", append=RELU_BWD_IGNORES_DOUT,
           diagnosis=IGNORES_DOUT),
    Mutant("gelu_bwd_ignores_dout", "3.3", AC, (), ("activation_backward_values",),
           "gelu_backward ignores the upstream gradient dout", append=GELU_BWD_IGNORES_DOUT,
           diagnosis=IGNORES_DOUT),
    Mutant("relu_bwd_in_place", "3.3", AC, (), ("activation_backward_values",),
           "relu_backward modified one of its inputs in place", append=RELU_BWD_IN_PLACE),
]

GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("gelu_forms_swapped", "activation_values", "approximate='tanh' is GPT-2's", ""),
    ("relu_grad_one_at_zero", "activation_backward_values", "relu_backward", "gelu"),
    ("silu_bwd_missing_term", "activation_backward_values", "silu_backward", "gelu"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# (mutant, check, message that would blame code the mutant left correct): a bug in one
# function must not be reported as a bug of another that is right.  The check may pass, or
# fail saying the other function is not right yet, but not claim the untouched code is wrong.
NOT_BLAMED = [
    ("gelu_forms_swapped", "activation_backward_values", "gelu_backward"),
]

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["3.3"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED,
                                blame_gaps=BLAME_GAPS))
