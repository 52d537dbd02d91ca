"""Mutation tests of 1.5 (Attention backward): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from self_attention_common import F32, A

from grader.course import SELF_ATTENTION

PACKAGE = SELF_ATTENTION.package  # mutants edit files of reference/self_attention/

LOAD = ('    q, k, v, weights, scale = (cache[name] for name in '
        '("q", "k", "v", "weights", "scale"))\n')
DV = "    dv = np.swapaxes(weights, -1, -2) @ dout  # (..., T_k, T_q) @ (..., T_q, D_v)\n"
DSCORES = "    dscores = softmax_backward(dweights, weights, axis=-1)  # (..., T_q, T_k)\n"
DSCALE = "    dscores *= scale  # in place: dscores is a new array\n"
DK = "    dk = np.swapaxes(dscores, -1, -2) @ q  # (..., T_k, T_q) @ (..., T_q, D)\n"

MUTANTS = [
    Mutant("attn_bwd_dk_transposed", "1.5", A,
           ((DK, "    dk = np.swapaxes(q, -1, -2) @ dscores\n"),),
           ("attention_backward_values", "attention_backward_finite_differences",
            "attention_backward_masked_rows_float32"),
           "dk has shape (2, 4, 5), expected (2, 5, 4)"),
    Mutant("attn_bwd_dv_uses_dout_T", "1.5", A,
           ((DV, "    dv = np.swapaxes(dout, -1, -2) @ weights\n"),),
           ("attention_backward_values", "attention_backward_finite_differences"),
           "dv has shape (2, 6, 5), expected (2, 5, 6)"),
    Mutant("attn_bwd_dq_unscaled", "1.5", A,
           ((DSCALE, ""), (DK, DK.replace("@ q", "@ q * scale"))),
           ("attention_backward_values", "attention_backward_finite_differences"),
           "dq = scale * dS @ k"),
    Mutant("attn_bwd_no_softmax_backward", "1.5", A,
           ((DSCORES + DSCALE, "    dscores = dweights * scale\n"),),
           ("attention_backward_values", "attention_backward_finite_differences",
            "attention_backward_masked_rows_float32"), "softmax backward of dP"),
    Mutant("attn_bwd_mask_forgotten", "1.5", A,  # masked entries get a gradient
           ((LOAD, LOAD + "    weights = softmax(q @ np.swapaxes(k, -1, -2) * scale, axis=-1)\n"),),
           ("attention_backward_values", "attention_backward_finite_differences",
            "attention_backward_masked_rows_float32"), "(causal case)"),
    Mutant("attn_bwd_numpy_sqrt_float64", "1.5", A,
           ((DSCORES + DSCALE, "    dscores = softmax_backward(dweights, weights)"
                      " / np.sqrt(q.shape[-1])\n"),),
           ("attention_backward_masked_rows_float32",), F32),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.5"], MUTANTS))
