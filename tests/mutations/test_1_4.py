"""Mutation tests of 1.4 (Scaled dot-product attention): every check of the exercise fails
on a plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from self_attention_common import F32, A, S

from grader.course import SELF_ATTENTION

PACKAGE = SELF_ATTENTION.package  # mutants edit files of reference/self_attention/

SCALE = "    scale = 1.0 / math.sqrt(q.shape[-1])  # a Python float, so float32 stays float32\n"
SCORES = "    scores = q @ np.swapaxes(k, -1, -2)  # (..., T_q, D) @ (..., D, T_k)\n"
SCORES_SCALE = "    scores *= scale  # in place: scores is a new array\n"
MASK = ("        np.copyto(scores, -np.inf, where=np.logical_not(mask))"
        "  # exp(-inf) = 0: no weight\n")
SOFTMAX = "    weights = softmax(scores, axis=-1)  # (..., T_q, T_k)\n"
CACHE = '    cache = {"q": q, "k": k, "v": v, "weights": weights, "scale": scale}\n'

# Wraps the reference forward: `body` runs first (e.g. replaces a default of the mask).
_WRAP = """
_reference_sdpa = scaled_dot_product_attention
def scaled_dot_product_attention(q, k, v, mask={default}):
{body}    return _reference_sdpa(q, k, v, mask)
"""

MUTANTS = [
    Mutant("attn_no_scale", "1.4", A, ((SCALE, "    scale = 1.0\n"),),
           ("attention_values", "attention_masks", "attention_batched_float32"), "1/sqrt(d_k)",
           diagnosis="the 1/sqrt(d_k) scaling is missing"),
    Mutant("attn_divide_by_d", "1.4", A, ((SCALE, "    scale = 1.0 / q.shape[-1]\n"),),
           ("attention_values",), "divided by d_k instead of sqrt(d_k)",
           diagnosis="you divided by d_k instead of sqrt(d_k)"),
    Mutant("attn_softmax_over_queries", "1.4", A, ((SOFTMAX, SOFTMAX.replace("-1", "-2")),),
           ("attention_values", "attention_masks", "attention_batched_float32"), "axis -1",
           diagnosis="the softmax runs over the queries"),
    Mutant("attn_mask_large_negative", "1.4", A, ((MASK, MASK.replace("-np.inf", "-1e9")),),
           ("attention_masks",), "-inf", diagnosis="masked scores are set to a finite value"),
    Mutant("attn_mask_after_softmax", "1.4", A,
           ((MASK, "        pass\n"),
            (SOFTMAX, SOFTMAX + "    if mask is not None:\n"
                                "        weights = np.where(mask, weights, 0.0)\n")),
           ("attention_masks", "attention_batched_float32"), "sum to 1 over the keys",
           diagnosis="the weights are zeroed after the softmax"),
    Mutant("attn_mask_inverted", "1.4", A, ((MASK, MASK.replace("np.logical_not(mask)", "mask")),),
           ("attention_masks", "attention_batched_float32"), "must get exactly 0",
           diagnosis="the mask is applied the other way round"),
    Mutant("attn_k_transpose_3d_only", "1.4", A,
           ((SCORES, SCORES.replace("np.swapaxes(k, -1, -2)", "k.transpose(0, 2, 1)")),),
           ("attention_batched_float32",), "axes don't match", "error"),
    Mutant("attn_fully_masked_row_nan", "1.4", A,
           ((SOFTMAX, "    e = np.exp(scores - scores.max(axis=-1, keepdims=True))\n"
                      "    weights = e / e.sum(axis=-1, keepdims=True)\n"),),
           ("attention_masks",), "fully masked row"),
    Mutant("attn_numpy_sqrt_float64", "1.4", A,  # (in place, *= would hide the float64)
           ((SCALE, "    scale = 1.0 / np.sqrt(q.shape[-1])\n"),
            (SCORES_SCALE, "    scores = scores * scale\n")),
           ("attention_batched_float32",), F32),
    Mutant("attn_no_weights_in_cache", "1.4", A, ((CACHE, CACHE.replace('"weights":', '"p":')),),
           ("attention_values", "attention_masks", "attention_batched_float32"),
           "cache['weights']"),
    # A softmax (1.1) off by a factor 1.0001: the sums show enough digits to see it, and no
    # message blames the mask, which is applied right.
    Mutant("attn_softmax_off_by_1e-4", "1.4", S, (), ("attention_values", "attention_masks"),
           "[1.0001, 1.0001]", append="_softmax = softmax\n"
           "def softmax(x, axis=-1):\n    return _softmax(x, axis) * 1.0001\n"),
    Mutant("attn_default_mask_causal", "1.4", A, (),
           ("attention_values", "attention_batched_float32"), "called without a mask",
           append=_WRAP.format(default="...", body="    if mask is ...:  # causal by default\n"
                               "        t_q, t_k = q.shape[-2], k.shape[-2]\n"
                               "        mask = np.tri(t_q, t_k, t_k - t_q, dtype=bool)\n")),
    Mutant("attn_no_input_checks", "1.4", A, (), ("attention_rejects_bad_inputs",),
           "expected ValueError", append=_WRAP.format(
               default="None", body="    global _check_attention_inputs\n"
                                    "    _check_attention_inputs = lambda *args: None\n")),
]

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# first message once pointed at the wrong fix; kept so the diagnosis stays right.
DIAGNOSED = [
    ("attn_mask_inverted", "attention_masks", "True = may attend", ""),
    ("attn_mask_after_softmax", "attention_masks", "before the softmax", ""),
    ("attn_softmax_off_by_1e-4", "attention_masks", "1.0001 times", "mask the scores"),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.4"], MUTANTS, diagnosed=DIAGNOSED))
