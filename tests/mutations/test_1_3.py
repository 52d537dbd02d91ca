"""Mutation tests of 1.3 (Causal and padding masks): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from self_attention_common import F32, MK

from grader.course import SELF_ATTENTION

PACKAGE = SELF_ATTENTION.package  # mutants edit files of reference/self_attention/

CAUSAL = "    return j <= i + (t_k - t_q)\n"
PADDING = "    return np.arange(t)[None, :] < lengths[:, None]  # (1, t) < (B, 1) -> (B, t)\n"

MUTANTS = [
    Mutant("causal_top_left", "1.3", MK,
           ((CAUSAL, "    return np.tril(np.ones((t_q, t_k), dtype=bool))\n"),),
           ("causal_mask_alignment",), "top-left"),
    Mutant("causal_float_tril", "1.3", MK,
           ((CAUSAL, "    return np.tril(np.ones((t_q, t_k)), 0)\n"),),
           ("causal_mask_alignment",), "expected bool"),
    Mutant("causal_inverted", "1.3", MK, ((CAUSAL, "    return j > i + (t_k - t_q)\n"),),
           ("causal_mask_alignment",), "inverted"),
    Mutant("causal_off_by_one", "1.3", MK, ((CAUSAL, "    return j < i + (t_k - t_q)\n"),),
           ("causal_mask_alignment",), "at or before the query's position"),
    Mutant("padding_le", "1.3", MK, ((PADDING, PADDING.replace(" < lengths", " <= lengths")),),
           ("padding_mask_values",), "j < lengths[b]"),
]

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# first message once pointed at the wrong fix; kept so the diagnosis stays right.
DIAGNOSED = [
    ("causal_float_tril", "causal_mask_alignment", "masks are boolean", F32),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.3"], MUTANTS, diagnosed=DIAGNOSED))
