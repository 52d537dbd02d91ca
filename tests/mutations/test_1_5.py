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

# The reference backward, for mutants that append a changed copy of it.
_BWD = """
def scaled_dot_product_attention_backward(dout, cache):
    q, k, v, weights, scale = (cache[name] for name in ("q", "k", "v", "weights", "scale"))
    dv = np.swapaxes(weights, -1, -2) @ dout
    dweights = dout @ np.swapaxes(v, -1, -2)
    dscores = softmax_backward(dweights, weights, axis=-1)
    dscores *= scale
    dq = dscores @ k
    dk = np.swapaxes(dscores, -1, -2) @ q
    return dq, dk, dv
"""

MUTANTS = [
    Mutant("attn_bwd_dk_transposed", "1.5", A,
           ((DK, "    dk = np.swapaxes(q, -1, -2) @ dscores\n"),),
           ("attention_backward_dk",), "dk (plain case) has shape (2, 4, 5), expected (2, 5, 4)",
           diagnosis="dk is transposed"),
    Mutant("attn_bwd_dv_uses_dout_T", "1.5", A,
           ((DV, "    dv = np.swapaxes(dout, -1, -2) @ weights\n"),),
           ("attention_backward_dv",), "dv (plain case) has shape (2, 6, 5), expected (2, 5, 6)",
           diagnosis="dv is transposed"),
    Mutant("attn_bwd_dq_unscaled", "1.5", A,
           ((DSCALE, ""), (DK, DK.replace("@ q", "@ q * scale"))),
           ("attention_backward_dq",), "2 times the true gradient",
           diagnosis="the 1/sqrt(d_k) scale is missing from dq"),
    Mutant("attn_bwd_no_softmax_backward", "1.5", A,
           ((DSCORES + DSCALE, "    dscores = dweights * scale\n"),),
           ("attention_backward_dq", "attention_backward_dk"), "dS = dP",
           diagnosis="the softmax backward is skipped"),
    Mutant("attn_bwd_mask_forgotten", "1.5", A,  # masked entries get a gradient
           ((LOAD, LOAD + "    weights = softmax(q @ np.swapaxes(k, -1, -2) * scale, axis=-1)\n"),),
           ("attention_backward_dq", "attention_backward_dk", "attention_backward_dv",
            "attention_backward_masked_rows"), "(causal case)",
           diagnosis="the backward ignores the mask"),
    Mutant("attn_bwd_numpy_sqrt_float64", "1.5", A,
           ((DSCORES + DSCALE, "    dscores = softmax_backward(dweights, weights)"
                      " / np.sqrt(q.shape[-1])\n"),),
           ("attention_backward_float32",), F32),
    # The example: the backward without its 1/sqrt(d_k) costs dq and dk only.
    Mutant("attn_bwd_no_scale", "1.5", A, (),
           ("attention_backward_dq", "attention_backward_dk",
            "attention_backward_finite_differences"),
           "2 times the true gradient with d_k = 4",
           append=_BWD.replace("    dscores *= scale\n", ""),
           diagnosis="the 1/sqrt(d_k) scale is missing"),
    Mutant("attn_bwd_scale_twice", "1.5", A, (), ("attention_backward_dq",),
           "extra factor 1/sqrt(d_k)", append=_BWD.replace("dq = dscores @ k",
                                                         "dq = dscores @ k * scale"),
           diagnosis="dq has an extra factor 1/sqrt(d_k)"),
    Mutant("attn_bwd_dv_negated", "1.5", A, (),
           ("attention_backward_dv", "attention_backward_finite_differences"), "sign of dv",
           append=_BWD.replace("return dq, dk, dv", "return dq, dk, -dv"),
           diagnosis="the sign of dv is flipped"),
    Mutant("attn_bwd_ignores_dout", "1.5", A, (),
           ("attention_backward_dq", "attention_backward_dk", "attention_backward_dv"),
           "ignores dout", append=_BWD.replace("    q, k, v,", "    dout = np.ones_like(dout)\n"
                                               "    q, k, v,"),
           diagnosis="ignores dout"),
    Mutant("attn_bwd_dq_dk_swapped", "1.5", A, (), ("attention_backward_dq",
                                                   "attention_backward_dk"),
           "dq holds the gradient of k", append=_BWD.replace("return dq, dk, dv",
                                                             "return dk, dq, dv"),
           diagnosis="the gradients are swapped"),
    Mutant("attn_bwd_softmax_no_sum_term", "1.5", A, (), ("attention_backward_dq",
                                                         "attention_backward_dk"),
           "-sum(dP * P)", append=_BWD.replace("softmax_backward(dweights, weights, axis=-1)",
                                               "weights * dweights"),
           diagnosis="the softmax backward lacks its -sum(dP * P) term"),
    Mutant("attn_bwd_scales_q_in_place", "1.5", A, (),
           ("attention_backward_dq", "attention_backward_dk", "attention_backward_dv"),
           "in place", append=_BWD.replace("    dscores *= scale\n", "    q *= scale\n"
                                           "    k *= scale\n")),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.5"], MUTANTS))
