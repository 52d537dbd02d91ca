"""Mutation tests of 1.8 (Multi-head attention backward): every check of the exercise fails
on a plausible student bug, and its message names the bug.  The harness and its conventions:
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

LINEAR = "        return x.reshape(-1, C).T @ dy.reshape(-1, C), dy.sum(axis=(0, 1))\n"
DMERGED = '    dmerged = dout @ params["W_o"].T  # (B, T_q, C)\n'
DX_KV = ('    dx_kv = dk @ params["W_k"].T + dv @ params["W_v"].T'
         "  # keys and values both read x_kv\n")
MHA_RET = "    return dx_q, dx_kv, {name: dparams[name] for name in PARAM_NAMES}\n"

MUTANTS = [
    Mutant("mha_bwd_dW_mean_over_batch", "1.8", MH,
           ((LINEAR, "        return (np.swapaxes(x, -1, -2) @ dy).mean(axis=0), "
                     "dy.sum(axis=(0, 1))\n"),),
           ("mha_backward_values", "mha_backward_finite_differences"),
           "summed over batch and time"),
    Mutant("mha_bwd_db_wrong_axis", "1.8", MH,
           ((LINEAR, LINEAR.replace("dy.sum(axis=(0, 1))", "dy.sum(axis=1)")),),
           ("mha_backward_values", "mha_backward_finite_differences"), "axis you reduced"),
    Mutant("mha_bwd_dx_kv_no_value_path", "1.8", MH,
           ((DX_KV, '    dx_kv = dk @ params["W_k"].T\n'),),
           ("mha_backward_values", "mha_backward_finite_differences",
            "mha_backward_self_attention"), "both paths"),
    Mutant("mha_bwd_no_W_o", "1.8", MH, ((DMERGED, "    dmerged = dout\n"),),
           ("mha_backward_values", "mha_backward_finite_differences",
            "mha_backward_self_attention"), "dout @ W_o^T"),
    Mutant("mha_bwd_self_attention_summed", "1.8", MH,
           ((MHA_RET, "    if x_kv is x_q:\n        dx_q = dx_kv = dx_q + dx_kv\n" + MHA_RET),),
           ("mha_backward_self_attention",), "let the caller add them"),
    Mutant("mha_bwd_db_float64", "1.8", MH,
           ((LINEAR, "        db = np.zeros(C)  # accumulated over every (b, t) row\n"
                     "        db += dy.sum(axis=(0, 1))\n"
                     "        return x.reshape(-1, C).T @ dy.reshape(-1, C), db\n"),),
           ("mha_backward_float32",), "expected float32"),
]

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# first message once pointed at the wrong fix; kept so the diagnosis stays right.
DIAGNOSED = [
    ("mha_bwd_no_W_o", "mha_backward_values", "dout @ W_o^T", ""),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.8"], MUTANTS, diagnosed=DIAGNOSED))
