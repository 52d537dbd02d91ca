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

# Wraps the reference backward: `body` computes (dx_q, dx_kv, dp) with `_bwd`, changed.
_WRAP = """
_bwd = multi_head_attention_backward
def multi_head_attention_backward(dout, cache):
{body}    return dx_q, dx_kv, dp
"""

MUTANTS = [
    Mutant("mha_bwd_dW_mean_over_batch", "1.8", MH,
           ((LINEAR, "        return (np.swapaxes(x, -1, -2) @ dy).mean(axis=0), "
                     "dy.sum(axis=(0, 1))\n"),),
           ("mha_backward_dparams", "mha_backward_finite_differences"),
           "averaged over the batch instead of summed",
           diagnosis="averaged over the batch instead of summed"),
    Mutant("mha_bwd_db_wrong_axis", "1.8", MH,
           ((LINEAR, LINEAR.replace("dy.sum(axis=(0, 1))", "dy.sum(axis=1)")),),
           ("mha_backward_dparams",), "db_o (cross) has shape (2, 12), expected (12,)"),
    Mutant("mha_bwd_dx_kv_no_value_path", "1.8", MH,
           ((DX_KV, '    dx_kv = dk @ params["W_k"].T\n'),),
           ("mha_backward_dx_kv",), "misses the value path",
           diagnosis="dx_kv misses the value path"),
    Mutant("mha_bwd_no_W_o", "1.8", MH, ((DMERGED, "    dmerged = dout\n"),),
           ("mha_backward_dx_q", "mha_backward_dx_kv", "mha_backward_dparams",
            "mha_backward_finite_differences"),
           "dout @ W_o^T", diagnosis="the gradient into the merged heads skips W_o"),
    Mutant("mha_bwd_self_attention_summed", "1.8", MH,
           ((MHA_RET, "    if x_kv is x_q:\n        dx_q = dx_kv = dx_q + dx_kv\n" + MHA_RET),),
           ("mha_backward_self_attention",), "the caller adds them"),
    Mutant("mha_bwd_db_float64", "1.8", MH,
           ((LINEAR, "        db = np.zeros(C)  # accumulated over every (b, t) row\n"
                     "        db += dy.sum(axis=(0, 1))\n"
                     "        return x.reshape(-1, C).T @ dy.reshape(-1, C), db\n"),),
           ("mha_backward_float32",), "expected float32"),
    Mutant("mha_bwd_ignores_dout", "1.8", MH, (),
           ("mha_backward_dx_q", "mha_backward_dx_kv", "mha_backward_dparams"), "ignores dout",
           append=_WRAP.format(body="    dx_q, dx_kv, dp = _bwd(np.ones_like(dout), cache)\n"),
           diagnosis="ignores dout"),
    Mutant("mha_bwd_dx_swapped", "1.8", MH, (), ("mha_backward_dx_q", "mha_backward_dx_kv"),
           "dx_q holds the gradient of x_kv", append=_WRAP.format(
               body="    dx_kv, dx_q, dp = _bwd(dout, cache)\n"),
           diagnosis="the gradients are swapped"),
    Mutant("mha_bwd_dW_k_dW_v_swapped", "1.8", MH, (), ("mha_backward_dparams",),
           "dW_v holds the gradient of W_k", append=_WRAP.format(
               body="    dx_q, dx_kv, dp = _bwd(dout, cache)\n"
                    "    dp['W_k'], dp['W_v'] = dp['W_v'], dp['W_k']\n"),
           diagnosis="the gradients are swapped"),
    Mutant("mha_bwd_dW_q_transposed", "1.8", MH, (), ("mha_backward_dparams",),
           "dW_q is transposed", append=_WRAP.format(
               body="    dx_q, dx_kv, dp = _bwd(dout, cache)\n    dp['W_q'] = dp['W_q'].T\n"),
           diagnosis="dW_q is transposed"),
    Mutant("mha_bwd_dW_mean_over_rows", "1.8", MH, (), ("mha_backward_dparams",),
           "averaged over the B*T rows", append=_WRAP.format(
               body="    dx_q, dx_kv, dp = _bwd(dout, cache)\n"
                    "    dp['W_o'] = dp['W_o'] / (dout.shape[0] * dout.shape[1])\n"),
           diagnosis="dW_o is averaged over the B*T rows instead of summed"),
]

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# first message once pointed at the wrong fix; kept so the diagnosis stays right.
DIAGNOSED = [
    ("mha_bwd_no_W_o", "mha_backward_dparams", "dout @ W_o^T", ""),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.8"], MUTANTS, diagnosed=DIAGNOSED))
