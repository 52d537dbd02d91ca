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
LN_VAR = '    var = np.einsum("...c,...c->...", xc, xc)[..., None] / x.shape[-1]\n'
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

SWAPPED = "dgamma and dbeta are swapped"
IGNORES_DOUT = "ignores the upstream gradient dout"

# Code appended to norms.py: each wraps or replaces one function.
LN_DEFAULT_EPS = """
_layer_norm = layer_norm
def layer_norm(x, gamma, beta, eps=1e-6):  # PyTorch's rms_norm-like default, not 1e-5
    return _layer_norm(x, gamma, beta, eps)
"""
RMS_DEFAULT_EPS = """
_rms_norm = rms_norm
def rms_norm(x, gamma, eps=1e-5):  # LayerNorm's default
    return _rms_norm(x, gamma, eps)
"""
LN_DX_NO_MEAN = """
def layer_norm_backward(dout, cache):  # forgets that mu depends on every feature
    xhat, rstd, gamma = cache["xhat"], cache["rstd"], cache["gamma"]
    c = xhat.shape[-1]
    g = dout * gamma
    dx = rstd * (g - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    return dx, (dout * xhat).reshape(-1, c).sum(axis=0), dout.reshape(-1, c).sum(axis=0)
"""
LN_FWD_NO_BETA = """
_layer_norm = layer_norm
def layer_norm(x, gamma, beta, eps=1e-5):  # a forward bug that leaves the cache right
    out, cache = _layer_norm(x, gamma, beta, eps)
    return out - beta, cache
"""
LN_BWD_IGNORES_DOUT = """
_layer_norm_backward = layer_norm_backward
def layer_norm_backward(dout, cache):
    return _layer_norm_backward(np.ones_like(dout), cache)
"""
LN_SWAPPED = """
_layer_norm_backward = layer_norm_backward
def layer_norm_backward(dout, cache):
    dx, dgamma, dbeta = _layer_norm_backward(dout, cache)
    return dx, dbeta, dgamma
"""
LN_DGAMMA_MEAN = """
_layer_norm_backward = layer_norm_backward
def layer_norm_backward(dout, cache):
    dx, _, dbeta = _layer_norm_backward(dout, cache)
    c = cache["xhat"].shape[-1]
    return dx, (dout * cache["xhat"]).reshape(-1, c).mean(axis=0), dbeta
"""
LN_DX_SUMS = """
def layer_norm_backward(dout, cache):  # np.sum where the formula says mean
    xhat, rstd, gamma = cache["xhat"], cache["rstd"], cache["gamma"]
    c = xhat.shape[-1]
    g = dout * gamma
    dx = rstd * (g - g.sum(axis=-1, keepdims=True)
                 - xhat * (g * xhat).sum(axis=-1, keepdims=True))
    return dx, (dout * xhat).reshape(-1, c).sum(axis=0), dout.reshape(-1, c).sum(axis=0)
"""
LN_BWD_IN_PLACE = """
def layer_norm_backward(dout, cache):  # reuses dout's buffer for g
    xhat, rstd, gamma = cache["xhat"], cache["rstd"], cache["gamma"]
    c = xhat.shape[-1]
    dgamma = (dout * xhat).reshape(-1, c).sum(axis=0)
    dbeta = dout.reshape(-1, c).sum(axis=0)
    dout *= gamma
    dx = rstd * (dout - dout.mean(axis=-1, keepdims=True)
                 - xhat * (dout * xhat).mean(axis=-1, keepdims=True))
    return dx, dgamma, dbeta
"""
NO_INPUT_CHECK = """
def _check_norm_inputs(x, params, eps, where):  # the given check deleted
    pass
"""
RMS_DX_WITH_MEAN = """
def rms_norm_backward(dout, cache):  # LayerNorm's formula copied
    xhat, rrms, gamma = cache["xhat"], cache["rrms"], cache["gamma"]
    g = dout * gamma
    dx = rrms * (g - g.mean(axis=-1, keepdims=True)
                 - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    return dx, (dout * xhat).reshape(-1, xhat.shape[-1]).sum(axis=0)
"""
RMS_BWD_IGNORES_DOUT = """
_rms_norm_backward = rms_norm_backward
def rms_norm_backward(dout, cache):
    return _rms_norm_backward(np.ones_like(dout), cache)
"""
RMS_DGAMMA_NO_XHAT = """
_rms_norm_backward = rms_norm_backward
def rms_norm_backward(dout, cache):
    dx, _ = _rms_norm_backward(dout, cache)
    return dx, dout.reshape(-1, dout.shape[-1]).sum(axis=0)
"""

MUTANTS = [
    Mutant("ln_eps_outside_sqrt", "3.2", NO,
           ((LN_RSTD, "    rstd = 1.0 / (np.sqrt(var) + eps)\n"),),
           ("layer_norm_values",), "eps outside the square root",
           diagnosis="layer_norm puts eps outside the square root"),
    Mutant("ln_unbiased_variance", "3.2", NO,
           ((LN_VAR, "    var = (xc * xc).sum(axis=-1, keepdims=True) / (x.shape[-1] - 1)\n"),),
           ("layer_norm_values",), "unbiased variance",
           diagnosis="layer_norm uses the unbiased variance"),
    Mutant("ln_stats_over_batch", "3.2", NO,  # BatchNorm's axis
           ((LN_MU, "    mu = x.mean(axis=0, keepdims=True)\n"),
            (LN_VAR, "    var = (xc * xc).mean(axis=0, keepdims=True)\n")),
           ("layer_norm_values",), "Normalise over the last axis only"),
    Mutant("ln_fwd_float64", "3.2", NO,  # statistics in float64 "for precision"
           ((LN_MU, "    mu = x.mean(axis=-1, keepdims=True, dtype=np.float64)\n"),),
           ("layer_norm_values",), "layer_norm of float32 inputs has dtype float64"),
    Mutant("ln_dbeta_wrong_axis", "3.2", NO,
           ((LN_DBETA, "    dbeta = dout.sum(axis=-1)\n"),),
           ("layer_norm_backward_dbeta",),
           f"dbeta has shape {(LN_B, LN_T)}, expected ({LN_C},)"),
    Mutant("ln_dgamma_wrong_axis", "3.2", NO,
           ((LN_DGAMMA, "    dgamma = (dout * xhat).sum(axis=-1)\n"),),
           ("layer_norm_backward_dgamma",),
           f"dgamma has shape {(LN_B, LN_T)}, expected ({LN_C},)"),
    Mutant("ln_dgamma_without_xhat", "3.2", NO,
           ((LN_DGAMMA, "    dgamma = dout.reshape(-1, c).sum(axis=0)\n"),),
           ("layer_norm_backward_dgamma", "layer_norm_finite_differences"),
           "dgamma sums dout without the factor xhat",
           diagnosis="dgamma sums dout without the factor xhat"),
    Mutant("ln_dx_stats_as_constants", "3.2", NO,
           ((LN_DX, "    dx = rstd * (dout * gamma)\n"),),
           ("layer_norm_backward_dx", "layer_norm_finite_differences"),
           "dx treats mu and var as constants", diagnosis="dx treats mu and var as constants"),
    Mutant("ln_dx_missing_var_term", "3.2", NO,
           ((LN_DX, "    dx = rstd * (dout * gamma - g_mean)\n"),),
           ("layer_norm_backward_dx", "layer_norm_finite_differences"),
           "dx lacks the -xhat * mean(g * xhat) term",
           diagnosis="dx lacks the -xhat * mean(g * xhat) term"),
    Mutant("ln_bwd_float64", "3.2", NO,  # a float64 accumulator promotes float32 gradients
           ((LN_DGAMMA, "    dgamma = np.zeros(c)\n    dgamma += (dout * xhat).reshape(-1, c)"
                        ".sum(axis=0)\n"),),
           ("norm_backward_float32",), F32),
    Mutant("rms_eps_outside_sqrt", "3.2", NO,
           ((RMS_R, "    rrms = 1.0 / (np.sqrt(ms) + eps)\n"),),
           ("rms_norm_values",), "eps outside the square root",
           diagnosis="rms_norm puts eps outside the square root"),
    Mutant("rms_subtracts_mean", "3.2", NO,
           ((RMS_MS, "    x = x - x.mean(axis=-1, keepdims=True)\n"
                     "    ms = (x * x).mean(axis=-1, keepdims=True)\n"),),
           ("rms_norm_values",), "RMSNorm does not subtract the mean"),
    Mutant("rms_dx_stats_as_constants", "3.2", NO,
           ((RMS_DX, "    dx = rrms * g\n"),),
           ("rms_norm_backward_dx",), "dx treats the rms as a constant",
           diagnosis="dx treats the rms as a constant"),
    Mutant("rms_fwd_float64", "3.2", NO,
           ((RMS_MS, "    ms = (x * x).mean(axis=-1, keepdims=True, dtype=np.float64)\n"),),
           ("rms_norm_values", "norm_backward_float32"), F32),
    # defaults, upstream gradient, named backward slips, stated errors, purity
    Mutant("ln_default_eps", "3.2", NO, (), ("layer_norm_default_eps",),
           "the default eps is not 1e-5", append=LN_DEFAULT_EPS,
           diagnosis="the default eps is not 1e-5"),
    Mutant("rms_default_eps", "3.2", NO, (), ("rms_norm_values",),
           "the default eps is not 1e-6", append=RMS_DEFAULT_EPS,
           diagnosis="the default eps is not 1e-6"),
    Mutant("ln_dx_missing_mean_term", "3.2", NO, (),
           ("layer_norm_backward_dx", "layer_norm_finite_differences"),
           "dx lacks the -mean(g) term", append=LN_DX_NO_MEAN,
           diagnosis="dx lacks the -mean(g) term"),
    Mutant("ln_fwd_no_beta_and_dx_missing_mean_term", "3.2", NO, (),
           ("layer_norm_backward_dx", "layer_norm_values"), "dx lacks the -mean(g) term",
           append=LN_DX_NO_MEAN + LN_FWD_NO_BETA, diagnosis="dx lacks the -mean(g) term"),
    Mutant("ln_bwd_ignores_dout", "3.2", NO, (),
           ("layer_norm_backward_dx", "layer_norm_backward_dgamma", "layer_norm_backward_dbeta"),
           IGNORES_DOUT, append=LN_BWD_IGNORES_DOUT, diagnosis=IGNORES_DOUT),
    Mutant("ln_dgamma_dbeta_swapped", "3.2", NO, (),
           ("layer_norm_backward_dgamma", "layer_norm_backward_dbeta"), SWAPPED,
           append=LN_SWAPPED, diagnosis=SWAPPED),
    Mutant("ln_dgamma_mean_over_rows", "3.2", NO, (), ("layer_norm_backward_dgamma",),
           "1/N (a mean over the N rows instead of a sum)", append=LN_DGAMMA_MEAN,
           diagnosis="dgamma is off by a constant factor"),
    Mutant("ln_dx_sums_not_means", "3.2", NO, (), ("layer_norm_backward_dx",),
           "dx sums over the features", append=LN_DX_SUMS,
           diagnosis="dx sums over the features"),
    Mutant("ln_bwd_modifies_dout", "3.2", NO, (), ("layer_norm_backward_dx",),
           "modified one of its inputs in place", append=LN_BWD_IN_PLACE),
    Mutant("norms_no_input_check", "3.2", NO, (), ("norm_errors",),
           "expected ValueError", append=NO_INPUT_CHECK),
    Mutant("rms_dx_with_mean_term", "3.2", NO, (), ("rms_norm_backward_dx",),
           "dx subtracts mean(g)", append=RMS_DX_WITH_MEAN, diagnosis="dx subtracts mean(g)"),
    Mutant("rms_bwd_ignores_dout", "3.2", NO, (),
           ("rms_norm_backward_dx", "rms_norm_backward_dgamma"), IGNORES_DOUT,
           append=RMS_BWD_IGNORES_DOUT, diagnosis=IGNORES_DOUT),
    Mutant("rms_dgamma_without_xhat", "3.2", NO, (), ("rms_norm_backward_dgamma",),
           "dgamma sums dout without the factor xhat", append=RMS_DGAMMA_NO_XHAT,
           diagnosis="dgamma sums dout without the factor xhat"),
]

GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("ln_eps_outside_sqrt", "layer_norm_values", "eps outside", "unbiased"),
    ("ln_unbiased_variance", "layer_norm_values", "n - 1", "eps outside"),
    ("rms_eps_outside_sqrt", "rms_norm_values", "sqrt(mean(x^2) + eps)", ""),
    # a missing term is named, not the whole formula restated
    ("ln_dx_missing_mean_term", "layer_norm_backward_dx", "-mean(g) term", "g - mean(g) - x_hat"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# (mutant, check, message that would blame code the mutant left correct): a bug in one
# function must not be reported as a bug of another that is right.  The check may pass, or
# fail saying the other function is not right yet, but not claim the untouched code is wrong.
NOT_BLAMED = [
    ("ln_eps_outside_sqrt", "layer_norm_backward_dx", "dx is wrong"),
    ("ln_eps_outside_sqrt", "layer_norm_finite_differences", "is wrong"),
    ("ln_unbiased_variance", "layer_norm_backward_dx", "is wrong"),
    ("ln_unbiased_variance", "layer_norm_backward_dgamma", "is wrong"),
    ("rms_eps_outside_sqrt", "rms_norm_backward_dx", "is wrong"),
    ("ln_default_eps", "layer_norm_backward_dx", "is wrong"),
    ("ln_dx_missing_mean_term", "layer_norm_backward_dgamma", "is wrong"),
]

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["3.2"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED,
                                blame_gaps=BLAME_GAPS))
