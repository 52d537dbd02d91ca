"""Mutation tests of 3.2 (LayerNorm and RMSNorm): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from transformer_common import F32, FX, NO

from grader.course import TRANSFORMER

PACKAGE = TRANSFORMER.package  # mutants edit files of reference/transformer/

LN_MU = "    mu = x.mean(axis=-1, keepdims=True)  # (..., 1)\n"
LN_VAR = "    var = (xc * xc).mean(axis=-1, keepdims=True)  # (..., 1), biased\n"
LN_RSTD = "    rstd = 1.0 / np.sqrt(var + eps)  # (..., 1); Python floats keep float32 float32\n"
LN_DGAMMA = "    dgamma = dout_xhat.reshape(-1, c).sum(axis=0)  # (C,)\n"
LN_DBETA = "    dbeta = dout.reshape(-1, c).sum(axis=0)  # (C,)\n"
LN_DX = ("    dx = dout * gamma  # g = dL/dxhat, (..., C); then, in place,\n"
         "    dx -= g_mean  # dx = rstd * (g - mean(g) - xhat * mean(g * xhat))\n"
         "    dx -= np.multiply(xhat, gx_mean, out=dout_xhat)  # (reusing dout_xhat's buffer)\n"
         "    dx *= rstd\n")
RMS_MS = "    ms = (x * x).mean(axis=-1, keepdims=True)  # (..., 1) mean square\n"
RMS_R = "    rrms = 1.0 / np.sqrt(ms + eps)  # (..., 1)\n"
RMS_DX = "    dx = rrms * (g - xhat * (g * xhat).mean(axis=-1, keepdims=True))\n"

LN_B, LN_T, LN_C = FX["ln.x"].shape

MUTANTS = [
    Mutant("ln_eps_outside_sqrt", "3.2", NO,
           ((LN_RSTD, "    rstd = 1.0 / (np.sqrt(var) + eps)\n"),),
           ("layer_norm_values",), "eps outside the square root"),
    Mutant("ln_unbiased_variance", "3.2", NO,
           ((LN_VAR, "    var = (xc * xc).sum(axis=-1, keepdims=True) / (x.shape[-1] - 1)\n"),),
           ("layer_norm_values",), "unbiased variance"),
    Mutant("ln_stats_over_batch", "3.2", NO,  # BatchNorm's axis
           ((LN_MU, "    mu = x.mean(axis=0, keepdims=True)\n"),
            (LN_VAR, "    var = (xc * xc).mean(axis=0, keepdims=True)\n")),
           ("layer_norm_values",), "Normalise over the last axis only"),
    Mutant("ln_fwd_float64", "3.2", NO,  # statistics in float64 "for precision"
           ((LN_MU, "    mu = x.mean(axis=-1, keepdims=True, dtype=np.float64)\n"),),
           ("layer_norm_values",), "layer_norm of float32 inputs has dtype float64"),
    Mutant("ln_dbeta_wrong_axis", "3.2", NO,
           ((LN_DBETA, "    dbeta = dout.sum(axis=-1)\n"),),
           ("layer_norm_backward_values",),
           f"dbeta has shape {(LN_B, LN_T)}, expected ({LN_C},)"),
    Mutant("ln_dgamma_wrong_axis", "3.2", NO,
           ((LN_DGAMMA, "    dgamma = (dout * xhat).sum(axis=-1)\n"),),
           ("layer_norm_backward_values",),
           f"dgamma has shape {(LN_B, LN_T)}, expected ({LN_C},)"),
    Mutant("ln_dgamma_without_xhat", "3.2", NO,
           ((LN_DGAMMA, "    dgamma = dout.reshape(-1, c).sum(axis=0)\n"),),
           ("layer_norm_backward_values", "layer_norm_finite_differences"),
           "dgamma sums dY * x_hat"),
    Mutant("ln_dx_stats_as_constants", "3.2", NO,
           ((LN_DX, "    dx = rstd * (dout * gamma)\n"),),
           ("layer_norm_backward_values", "layer_norm_finite_differences"),
           "dx = (g - mean(g) - x_hat * mean(g * x_hat))"),
    Mutant("ln_dx_missing_var_term", "3.2", NO,
           ((LN_DX, "    dx = rstd * (dout * gamma - g_mean)\n"),),
           ("layer_norm_backward_values", "layer_norm_finite_differences"), "dx is wrong"),
    Mutant("ln_bwd_float64", "3.2", NO,  # a float64 accumulator promotes float32 gradients
           ((LN_DGAMMA, "    dgamma = np.zeros(c)\n    dgamma += (dout * xhat).reshape(-1, c)"
                        ".sum(axis=0)\n"),),
           ("layer_norm_backward_values",), F32),
    Mutant("rms_eps_outside_sqrt", "3.2", NO,
           ((RMS_R, "    rrms = 1.0 / (np.sqrt(ms) + eps)\n"),),
           ("rms_norm_values_and_backward",), "eps outside the square root"),
    Mutant("rms_subtracts_mean", "3.2", NO,
           ((RMS_MS, "    x = x - x.mean(axis=-1, keepdims=True)\n"
                     "    ms = (x * x).mean(axis=-1, keepdims=True)\n"),),
           ("rms_norm_values_and_backward",), "RMSNorm does not subtract the mean"),
    Mutant("rms_dx_stats_as_constants", "3.2", NO,
           ((RMS_DX, "    dx = rrms * g\n"),),
           ("rms_norm_values_and_backward",), "RMSNorm dx is wrong"),
    Mutant("rms_fwd_float64", "3.2", NO,
           ((RMS_MS, "    ms = (x * x).mean(axis=-1, keepdims=True, dtype=np.float64)\n"),),
           ("rms_norm_values_and_backward",), F32),
]

GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("ln_eps_outside_sqrt", "layer_norm_values", "eps outside", "unbiased"),
    ("ln_unbiased_variance", "layer_norm_values", "n - 1", "eps outside"),
    ("rms_eps_outside_sqrt", "rms_norm_values_and_backward", "sqrt(mean(x^2) + eps)", ""),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# (mutant, check, message that would blame code the mutant left correct): a bug in one
# function must not be reported as a bug of another that is right.  The check may pass, or
# fail saying the other function is not right yet, but not claim the untouched code is wrong.
NOT_BLAMED = [
    ("ln_eps_outside_sqrt", "layer_norm_backward_values", "dx is wrong"),
    ("ln_eps_outside_sqrt", "layer_norm_finite_differences", "(finite differences) is wrong"),
    ("ln_unbiased_variance", "layer_norm_backward_values", "is wrong"),
    ("rms_eps_outside_sqrt", "rms_norm_values_and_backward", "RMSNorm dx"),
]

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["3.2"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED,
                                blame_gaps=BLAME_GAPS))
