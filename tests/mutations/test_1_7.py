"""Mutation tests of 1.7 (Multi-head attention): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from self_attention_common import MH

from grader.course import SELF_ATTENTION

PACKAGE = SELF_ATTENTION.package  # mutants edit files of reference/self_attention/

PROJ_Q = '    q = x_q @ params["W_q"] + params["b_q"]  # (B, T_q, C)\n'
HEADS = "    heads, attn_cache = scaled_dot_product_attention(q, k, v, mask)  # (B, H, T_q, D)\n"
PROJ_O = '    out = merged @ params["W_o"] + params["b_o"]  # (B, T_q, C)\n'

MUTANTS = [
    Mutant("mha_scale_by_model_width", "1.7", MH,  # 1/sqrt(D) / sqrt(H) = 1/sqrt(C)
           ((HEADS, HEADS.replace("(q, k, v, mask)", "(q / n_heads**0.5, k, v, mask)")),),
           ("mha_values", "mha_float32_and_inputs"), "the head size"),
    Mutant("mha_no_output_projection", "1.7", MH, ((PROJ_O, "    out = merged\n"),),
           ("mha_values", "mha_float32_and_inputs"), "output projection W_o"),
    Mutant("mha_no_output_bias", "1.7", MH, ((PROJ_O, '    out = merged @ params["W_o"]\n'),),
           ("mha_values", "mha_float32_and_inputs"), "W_o, b_o"),
    Mutant("mha_mask_dropped", "1.7", MH,
           ((HEADS, HEADS.replace("(q, k, v, mask)", "(q, k, v)")),),
           ("mha_causal_invariance", "mha_values"), "leaks the future"),
    Mutant("mha_params_in_place", "1.7", MH,  # folds the scale into W_q: applied twice
           ((PROJ_Q, '    params["W_q"] *= (x_q.shape[-1] // n_heads) ** -0.5\n' + PROJ_Q),),
           ("mha_float32_and_inputs", "mha_values"), "modified its input `W_q` in place"),
]

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# first message once pointed at the wrong fix; kept so the diagnosis stays right.
DIAGNOSED = [
    ("mha_params_in_place", "mha_causal_invariance", "in place", "leaks the future"),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.7"], MUTANTS, diagnosed=DIAGNOSED))
