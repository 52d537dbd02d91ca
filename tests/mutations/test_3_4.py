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

MUTANTS = [
    Mutant("ffn_no_first_bias", "3.4", FF,
           ((FFN_FC, '    h, fc_cache = linear(x, params["W_1"])\n'),),
           ("feed_forward_values",), "feed_forward (gelu) is wrong"),
    Mutant("ffn_db1_before_activation", "3.4", FF,  # bias gradient taken before act'
           ((FFN_BWD_FC, FFN_BWD_FC + "    db_1 = da.reshape(-1, da.shape[-1]).sum(axis=0)\n"),),
           ("feed_forward_backward_values",), "db_1 is wrong"),
    Mutant("ffn_db1_not_summed", "3.4", FF,
           ((FFN_BWD_FC, FFN_BWD_FC + "    db_1 = dh.sum(axis=0)\n"),),
           ("feed_forward_backward_values",),
           f"db_1 has shape {(FFN_T, FFN_F)}, expected ({FFN_F},)"),
    Mutant("ffn_bwd_skips_activation", "3.4", FF,
           ((FFN_BWD_ACT, "    dh = da\n"),),
           ("feed_forward_backward_values",), "db_1 is wrong"),
    Mutant("swiglu_gate_on_up_branch", "3.4", FF,
           ((SW_ACT, "    s, act_cache = silu(u)\n"),
            (SW_DOWN, '    out, down_cache = linear(s * g, params["W_down"])\n')),
           ("swiglu_values_and_backward",), "wrong branch"),
    Mutant("swiglu_product_rule_swapped", "3.4", FF,
           ((SW_PRODUCT, '    ds, du = dh * cache["s"], dh * cache["u"]\n'),),
           ("swiglu_values_and_backward",), "Product rule"),
    Mutant("swiglu_dx_one_branch", "3.4", FF,
           ((SW_DX, SW_DX.replace("dx_gate + dx_up", "dx_gate")),),
           ("swiglu_values_and_backward",), "x feeds both branches"),
]

GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("swiglu_gate_on_up_branch", "swiglu_values_and_backward", "silu(x W_gate)", ""),
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
