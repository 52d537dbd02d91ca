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

MUTANTS = [
    Mutant("gelu_forms_swapped", "3.3", AC,
           ((GELU_BRANCH, GELU_BRANCH.replace('"tanh"', '"none"')),),
           ("activation_values",), "computes the other GELU"),
    Mutant("relu_grad_one_at_zero", "3.3", AC,
           ((RELU_CACHE, '    return out, {"positive": x >= 0}\n'),),
           ("activation_backward_values",), "0 at x = 0"),
    Mutant("relu_bwd_float_mask", "3.3", AC,  # mask.astype(float) promotes float32
           ((RELU_BWD, '    return dout * cache["positive"].astype(float)\n'),),
           ("activation_float32",), "relu_backward of float32 input has dtype float64"),
    Mutant("gelu_tanh_bwd_missing_cubic", "3.3", AC,
           ((GELU_DU, "            du_dx = SQRT_2_OVER_PI\n"),),
           ("activation_backward_values",), "gelu_tanh_backward is wrong"),
    Mutant("gelu_exact_bwd_missing_pdf", "3.3", AC,
           ((GELU_EXACT_BWD, '    return dout * cache["cdf"]\n'),),
           ("activation_backward_values",), "gelu_none_backward is wrong"),
    Mutant("gelu_buffers_float64", "3.3", AC,  # np.empty without a dtype is float64
           ((GELU_BUFFERS, "        t, out = np.empty(np.shape(x)), np.empty(np.shape(x))\n"),),
           ("activation_float32",), "gelu of float32 input has dtype float64"),
    Mutant("silu_naive_sigmoid", "3.3", AC,  # exp(-x) overflows (and warns) for x < -709
           ((SILU_SIG, "    sigmoid = 1.0 / (1.0 + np.exp(-x))\n"),),
           ("activation_float32",), "overflow"),
    Mutant("silu_bwd_missing_term", "3.3", AC,  # only the sigmoid, not x * sigmoid'
           ((SILU_BWD, "    return dout * s\n"),),
           ("activation_backward_values",), "sigmoid(x) * (1 + x * (1 - sigmoid(x)))"),
    Mutant("silu_bwd_sigmoid_derivative_only", "3.3", AC,
           ((SILU_BWD, "    return dout * (x * s * (1.0 - s))\n"),),
           ("activation_backward_values",), "silu_backward is wrong"),
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
