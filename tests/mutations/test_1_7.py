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
           ("mha_values", "mha_float32_and_inputs"), "the head size",
           diagnosis="the scores are scaled by 1/sqrt(C), the model width"),
    Mutant("mha_no_output_projection", "1.7", MH, ((PROJ_O, "    out = merged\n"),),
           ("mha_values", "mha_float32_and_inputs"), "output projection (W_o, b_o) is missing",
           diagnosis="the output projection (W_o, b_o) is missing"),
    Mutant("mha_no_output_bias", "1.7", MH, ((PROJ_O, '    out = merged @ params["W_o"]\n'),),
           ("mha_values", "mha_float32_and_inputs"), "b_o is missing",
           diagnosis="the output bias b_o is missing"),
    Mutant("mha_mask_dropped", "1.7", MH,
           ((HEADS, HEADS.replace("(q, k, v, mask)", "(q, k, v)")),),
           ("mha_causal_invariance", "mha_values"), "leaks the future"),
    Mutant("mha_params_in_place", "1.7", MH,  # folds the scale into W_q: applied twice
           ((PROJ_Q, '    params["W_q"] *= (x_q.shape[-1] // n_heads) ** -0.5\n' + PROJ_Q),),
           ("mha_float32_and_inputs", "mha_values"), "modified its input `W_q` in place"),
    Mutant("mha_default_mask_causal", "1.7", MH, (), ("mha_values",), "called without a mask",
           append="_mha = multi_head_attention\n"
                  "def multi_head_attention(x_q, x_kv, params, n_heads, mask=...):\n"
                  "    if mask is ...:  # causal unless told otherwise\n"
                  "        t_q, t_k = x_q.shape[1], x_kv.shape[1]\n"
                  "        mask = np.tri(t_q, t_k, t_k - t_q, dtype=bool)\n"
                  "    return _mha(x_q, x_kv, params, n_heads, mask)\n"),
    # The given checks dropped while rewriting the function.
    Mutant("mha_no_validation", "1.7", MH, (), ("mha_rejects_bad_inputs",),
           "expected ValueError", append="_check_mha_inputs = lambda *args: None\n"),
]

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# first message once pointed at the wrong fix; kept so the diagnosis stays right.
DIAGNOSED = [
    ("mha_params_in_place", "mha_causal_invariance", "in place", "leaks the future"),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.7"], MUTANTS, diagnosed=DIAGNOSED))
