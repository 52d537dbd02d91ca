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
           ("causal_mask_alignment",), "top-left", diagnosis="the mask is top-left aligned"),
    Mutant("causal_float_tril", "1.3", MK,
           ((CAUSAL, "    return np.tril(np.ones((t_q, t_k)), 0)\n"),),
           ("causal_mask_alignment",), "expected bool"),
    Mutant("causal_inverted", "1.3", MK, ((CAUSAL, "    return j > i + (t_k - t_q)\n"),),
           ("causal_mask_alignment",), "inverted", diagnosis="the mask is inverted"),
    Mutant("causal_off_by_one", "1.3", MK, ((CAUSAL, "    return j < i + (t_k - t_q)\n"),),
           ("causal_mask_alignment",), "at or before the query's position"),
    Mutant("padding_le", "1.3", MK, ((PADDING, PADDING.replace(" < lengths", " <= lengths")),),
           ("padding_mask_values",), "j < lengths[b]"),
    Mutant("causal_default_t_k_1", "1.3", MK, (), ("causal_mask_alignment",),
           "t_k defaults to t_q", append="_causal = causal_mask\n"
           "def causal_mask(t_q, t_k=1):\n    return _causal(t_q, t_k)\n"),
    # An integer input modified in place (a check that copied it would not see it).
    Mutant("padding_lengths_in_place", "1.3", MK, (), ("padding_mask_values",), "in place",
           append="def padding_mask(lengths, t):\n    lengths = np.asarray(lengths)\n"
                  "    lengths -= 1  # last real position\n"
                  "    return np.arange(t)[None, :] <= lengths[:, None]\n"),
    # The given validation dropped while rewriting the functions.
    Mutant("masks_no_validation", "1.3", MK, (), ("masks_reject_bad_sizes",),
           "expected ValueError", append=(
               "def causal_mask(t_q, t_k=None):\n    t_k = t_q if t_k is None else t_k\n"
               "    return np.arange(t_k)[None, :] <= np.arange(t_q)[:, None] + (t_k - t_q)\n"
               "def padding_mask(lengths, t):\n"
               "    return np.arange(t)[None, :] < np.asarray(lengths)[:, None]\n")),
]

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# first message once pointed at the wrong fix; kept so the diagnosis stays right.
DIAGNOSED = [
    ("causal_float_tril", "causal_mask_alignment", "masks are boolean", F32),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.3"], MUTANTS, diagnosed=DIAGNOSED))
