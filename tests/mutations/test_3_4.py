"""Mutation tests of 3.4 (GELU MLP and SwiGLU): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from transformer_common import FF, FX

from grader.course import TRANSFORMER

PACKAGE = TRANSFORMER.package  # mutants edit files of reference/transformer/

FFN_FC = '    h, fc_cache = linear(x, params["W_1"], params["b_1"])  # (..., F)\n'
FFN_BWD_FC = '    dx, dW_1, db_1 = linear_backward(dh, cache["fc"])  # dx: (..., C)\n'
FFN_BWD_ACT = '    dh = act_backward(da, cache["act"])  # (..., F)\n'
SW_ACT = "    s, act_cache = silu(g)  # (..., F)\n"
SW_DOWN = '    out, down_cache = linear(s * u, params["W_down"])  # (..., C)\n'
SW_PRODUCT = '    ds, du = dh * cache["u"], dh * cache["s"]  # product rule\n'
SW_DX = '    return dx_gate + dx_up, {"W_gate": dW_gate, "W_up": dW_up, "W_down": dW_down}\n'

FFN_T, FFN_F = FX["ffn.x"].shape[1], FX["ffn.params.b_1"].shape[0]

IGNORES_DOUT = "ignores the upstream gradient dout"

# Code appended to feed_forward.py: each wraps or replaces one function.
FFN_DEFAULT_RELU = """
_feed_forward = feed_forward
def feed_forward(x, params, activation="relu"):  # Vaswani's, not GPT-2's
    return _feed_forward(x, params, activation)
"""
FFN_ALWAYS_GELU = """
_feed_forward = feed_forward
def feed_forward(x, params, activation="gelu"):  # the argument never reaches the layer
    return _feed_forward(x, params)
"""
FFN_UNKNOWN_AS_GELU = """
_feed_forward = feed_forward
def feed_forward(x, params, activation="gelu"):
    return _feed_forward(x, params, activation if activation in ACTIVATIONS else "gelu")
"""
NO_PARAM_CHECK = """
def _check_params(x, params, shapes, where):  # the given check deleted
    pass
"""
FFN_BWD_IGNORES_DOUT = """
_feed_forward_backward = feed_forward_backward
def feed_forward_backward(dout, cache):
    return _feed_forward_backward(np.ones_like(dout), cache)
"""
SWIGLU_BWD_IGNORES_DOUT = """
_swiglu_backward = swiglu_backward
def swiglu_backward(dout, cache):
    return _swiglu_backward(np.ones_like(dout), cache)
"""
SWIGLU_BWD_IN_PLACE = """
def swiglu_backward(dout, cache):  # reuses the cache's buffers
    dh, dW_down, _ = linear_backward(dout, cache["down"])
    du = cache["s"]
    du *= dh
    ds = cache["u"]
    ds *= dh
    dg = silu_backward(ds, cache["act"])
    dx_gate, dW_gate, _ = linear_backward(dg, cache["gate"])
    dx_up, dW_up, _ = linear_backward(du, cache["up"])
    return dx_gate + dx_up, {"W_gate": dW_gate, "W_up": dW_up, "W_down": dW_down}
"""
FFN_BWD_FLOAT64 = """
_feed_forward_backward = feed_forward_backward
def feed_forward_backward(dout, cache):  # float64 accumulators
    dx, grads = _feed_forward_backward(dout, cache)
    return dx, {k: v.astype(float) for k, v in grads.items()}
"""

MUTANTS = [
    Mutant("ffn_no_first_bias", "3.4", FF,
           ((FFN_FC, '    h, fc_cache = linear(x, params["W_1"])\n'),),
           ("feed_forward_values",), "feed_forward (gelu, the default) is wrong"),
    Mutant("ffn_db1_before_activation", "3.4", FF,  # bias gradient taken before act'
           ((FFN_BWD_FC, FFN_BWD_FC + "    db_1 = da.reshape(-1, da.shape[-1]).sum(axis=0)\n"),),
           ("feed_forward_backward_values",), "db_1 sums the gradient before the activation",
           diagnosis="db_1 sums the gradient before the activation"),
    Mutant("ffn_db1_not_summed", "3.4", FF,
           ((FFN_BWD_FC, FFN_BWD_FC + "    db_1 = dh.sum(axis=0)\n"),),
           ("feed_forward_backward_values",),
           f"db_1 has shape {(FFN_T, FFN_F)}, expected ({FFN_F},)"),
    Mutant("ffn_bwd_skips_activation", "3.4", FF,
           ((FFN_BWD_ACT, "    dh = da\n"),),
           ("feed_forward_backward_values", "feed_forward_backward_dx"),
           "the gradient skips the activation", diagnosis="the gradient skips the activation"),
    Mutant("swiglu_gate_on_up_branch", "3.4", FF,
           ((SW_ACT, "    s, act_cache = silu(u)\n"),
            (SW_DOWN, '    out, down_cache = linear(s * g, params["W_down"])\n')),
           ("swiglu_values",), "wrong branch", diagnosis="SiLU to the wrong branch"),
    Mutant("swiglu_product_rule_swapped", "3.4", FF,
           ((SW_PRODUCT, '    ds, du = dh * cache["s"], dh * cache["u"]\n'),),
           ("swiglu_backward_values", "swiglu_backward_dx"), "the product rule is swapped",
           diagnosis="the product rule is swapped"),
    Mutant("swiglu_dx_one_branch", "3.4", FF,
           ((SW_DX, SW_DX.replace("dx_gate + dx_up", "dx_gate")),),
           ("swiglu_backward_dx",), "x feeds both branches",
           diagnosis="dx lacks the up branch's gradient"),
    # defaults, options passed on, stated errors, upstream gradient, purity, dtype
    Mutant("ffn_default_relu", "3.4", FF, (), ("feed_forward_values",),
           "default activation is ReLU", append=FFN_DEFAULT_RELU,
           diagnosis="feed_forward's default activation is ReLU"),
    Mutant("ffn_activation_ignored", "3.4", FF, (), ("feed_forward_values",),
           "feed_forward (relu) is wrong", append=FFN_ALWAYS_GELU),
    Mutant("ffn_unknown_activation_as_gelu", "3.4", FF, (), ("feed_forward_errors",),
           "activation='tanh'): expected ValueError", append=FFN_UNKNOWN_AS_GELU),
    Mutant("ffn_no_param_check", "3.4", FF, (), ("feed_forward_errors",),
           "expected ValueError", append=NO_PARAM_CHECK),
    Mutant("ffn_bwd_ignores_dout", "3.4", FF, (),
           ("feed_forward_backward_values", "feed_forward_backward_dx"), IGNORES_DOUT,
           append=FFN_BWD_IGNORES_DOUT, diagnosis=IGNORES_DOUT),
    Mutant("swiglu_bwd_ignores_dout", "3.4", FF, (),
           ("swiglu_backward_values", "swiglu_backward_dx"), IGNORES_DOUT,
           append=SWIGLU_BWD_IGNORES_DOUT, diagnosis=IGNORES_DOUT),
    Mutant("swiglu_bwd_writes_cache", "3.4", FF, (), ("swiglu_backward_dx",),
           "modified one of its inputs in place", append=SWIGLU_BWD_IN_PLACE),
    Mutant("ffn_bwd_float64", "3.4", FF, (), ("feed_forward_float32",),
           "float32 inputs has dtype float64", append=FFN_BWD_FLOAT64),
]

GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("swiglu_gate_on_up_branch", "swiglu_values", "silu(x W_gate)", ""),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# (mutant, check, message that would blame code the mutant left correct): a bug in one
# function must not be reported as a bug of another that is right.  The check may pass, or
# fail saying the other function is not right yet, but not claim the untouched code is wrong.
NOT_BLAMED = [
    ("ffn_no_first_bias", "feed_forward_backward_values", "is wrong"),
]

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["3.4"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED,
                                blame_gaps=BLAME_GAPS))
