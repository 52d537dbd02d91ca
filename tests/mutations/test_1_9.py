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

MUTANTS = [
    Mutant("online_no_rescale", "1.9", ON,
           ((L, L.replace("rescale * l", "l")), (ACC, ACC.replace("rescale * acc", "acc"))),
           ("online_equals_attention", "online_stable_and_masked"), "exp(m_old - m_new)"),
    Mutant("online_skips_last_block", "1.9", ON,
           ((LOOP, LOOP.replace("range(0, t_k,", "range(0, t_k - block_size + 1,")),),
           ("online_equals_attention", "online_stable_and_masked"), "block_size=2"),
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
]

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# first message once pointed at the wrong fix; kept so the diagnosis stays right.
DIAGNOSED = [
    ("online_skips_last_block", "online_equals_attention", "last, shorter block", ""),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.9"], MUTANTS, diagnosed=DIAGNOSED))
