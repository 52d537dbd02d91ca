"""Mutation tests of 1.9 (Online-softmax (Flash) attention): every check of the exercise
fails on a plausible student bug, and its message names the bug.  The harness and its
conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from self_attention_common import ON

from grader.course import SELF_ATTENTION

PACKAGE = SELF_ATTENTION.package  # mutants edit files of reference/self_attention/

ACC0 = "    acc = np.zeros((*batch, t_q, d_v), dtype)  # running sum of exp(s - m) v\n"
LOOP = "    for start in range(0, t_k, block_size):\n"
BLOCK = "        s = (q @ np.swapaxes(k[..., start:stop, :], -1, -2)) * scale  # (..., T_q, Bk)\n"
SAFE = "        m_new_safe = np.where(np.isneginf(m_new), 0, m_new)\n"
RESCALE = "        rescale = np.exp(m - m_new_safe)  # exp(m_old - m_new): 0 while m_old is -inf\n"
P = "        p = np.exp(s - m_new_safe)  # (..., T_q, Bk), unnormalised block weights\n"
L = "        l = rescale * l + p.sum(axis=-1, keepdims=True)\n"
ACC = "        acc = rescale * acc + p @ v[..., start:stop, :]  # (..., T_q, Bk) @ (..., Bk, D_v)\n"

# Wraps the reference: other defaults, or other arguments passed on (`call`).
_WRAP = """
_online = online_softmax_attention
def online_softmax_attention(q, k, v, mask=None, block_size={block_size}, causal={causal}):
    return _online(q, k, v, {call})
"""

MUTANTS = [
    Mutant("online_no_rescale", "1.9", ON,
           ((L, L.replace("rescale * l", "l")), (ACC, ACC.replace("rescale * acc", "acc"))),
           ("online_equals_attention", "online_stable_and_masked"), "exp(m_old - m_new)"),
    Mutant("online_skips_last_block", "1.9", ON,
           ((LOOP, LOOP.replace("range(0, t_k,", "range(0, t_k - block_size + 1,")),),
           ("online_equals_attention", "online_stable_and_masked"), "block_size=2",
           diagnosis="the last, shorter block is skipped"),
    Mutant("online_fully_masked_row_nan", "1.9", ON, ((SAFE, "        m_new_safe = m_new\n"),),
           ("online_stable_and_masked",), "fully masked row"),
    Mutant("online_full_score_matrix", "1.9", ON,
           ((LOOP, "    scores = (q @ np.swapaxes(k, -1, -2)) * scale  # (..., T_q, T_k)\n" + LOOP),
            (BLOCK, "        s = scores[..., start:stop]\n")),
           ("online_memory",), "full score matrix"),
    Mutant("online_no_max_subtraction", "1.9", ON,
           ((RESCALE, "        rescale = 1.0\n"), (P, "        p = np.exp(s)\n")),
           ("online_stable_and_masked",), "overflow in exp"),
    Mutant("online_acc_float64", "1.9", ON, ((ACC0, ACC0.replace(", dtype)", ")")),),
           ("online_equals_attention",), "expected float32"),
    Mutant("online_default_causal", "1.9", ON, (), ("online_defaults",),
           "the default of `causal` must be False", append=_WRAP.format(
               block_size="64", causal="True", call="mask, block_size, causal")),
    Mutant("online_default_block_size_none", "1.9", ON, (), ("online_defaults",),
           "block_size must be an int", "error", append=_WRAP.format(
               block_size="None", causal="False", call="mask, block_size, causal")),
    Mutant("online_causal_ignored", "1.9", ON, (), ("online_causal",),
           "causal=True is ignored", append=_WRAP.format(
               block_size="64", causal="False", call="mask, block_size"),
           diagnosis="causal=True is ignored"),
    Mutant("online_causal_top_left", "1.9", ON, (), ("online_causal",), "top-left aligned",
           append=_WRAP.format(block_size="64", causal="False", call=(
               "mask if not causal else np.tri(q.shape[-2], k.shape[-2], dtype=bool)\n"
               "        & (True if mask is None else mask), block_size")),
           diagnosis="the causal mask is top-left aligned"),
    Mutant("online_causal_replaces_mask", "1.9", ON, (), ("online_causal",),
           "instead of being ANDed", append=_WRAP.format(
               block_size="64", causal="False", call="None if causal else mask, block_size, "
                                                     "causal"),
           diagnosis="causal=True replaces `mask`"),
    # The given checks of block_size lost: a float or 0 is quietly made a valid size.
    Mutant("online_block_size_coerced", "1.9", ON, (), ("online_rejects_bad_inputs",),
           "expected ValueError", append=_WRAP.format(
               block_size="64", causal="False", call="mask, max(1, int(block_size)), causal")),
]

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# first message once pointed at the wrong fix; kept so the diagnosis stays right.
DIAGNOSED = [
    ("online_skips_last_block", "online_equals_attention", "last, shorter block", ""),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.9"], MUTANTS, diagnosed=DIAGNOSED))
