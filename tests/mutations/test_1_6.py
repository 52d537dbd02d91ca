"""Mutation tests of 1.6 (Split and merge heads): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from self_attention_common import HD

from grader.course import SELF_ATTENTION

PACKAGE = SELF_ATTENTION.package  # mutants edit files of reference/self_attention/

SPLIT = ("    return x.reshape(B, T, n_heads, C // n_heads).transpose(0, 2, 1, 3)"
         "  # -> (B, H, T, D)\n")
MERGE = "    return x.transpose(0, 2, 1, 3).reshape(B, T, H * D)  # (B, T, H, D) -> (B, T, C)\n"

MUTANTS = [
    Mutant("split_interleaved", "1.6", HD,
           ((SPLIT, "    return x.reshape(B, T, C // n_heads, n_heads).transpose(0, 3, 1, 2)\n"),),
           ("split_heads_layout",), "contiguous block of columns",
           diagnosis="head h takes every 3rd column"),
    Mutant("split_no_transpose", "1.6", HD,
           ((SPLIT, "    return x.reshape(B, T, n_heads, C // n_heads)\n"),),
           ("split_heads_layout",), "transpose axes 1 and 2",
           diagnosis="the transpose is missing"),
    Mutant("merge_no_transpose", "1.6", HD, ((MERGE, "    return x.reshape(B, T, H * D)\n"),),
           ("merge_heads_inverse",), "without transposing back",
           diagnosis="the heads are reshaped without transposing back"),
    Mutant("split_float64", "1.6", HD, (), ("split_heads_layout",), "expected float32",
           append="import numpy as np\n_split = split_heads\n"
                  "def split_heads(x, n_heads):\n"
                  "    return _split(np.asarray(x, dtype=np.float64), n_heads)\n"),
    # The given checks dropped while rewriting the functions.
    Mutant("heads_no_validation", "1.6", HD, (), ("heads_reject_bad_shapes",),
           "expected ValueError", append=(
               "import numpy as np\ndef split_heads(x, n_heads):\n    *lead, T, C = x.shape\n"
               "    return np.swapaxes(x.reshape(*lead, T, n_heads, -1), -3, -2)\n"
               "def merge_heads(x):\n    x = np.swapaxes(x, -3, -2)\n"
               "    return x.reshape(*x.shape[:-2], -1)\n")),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["1.6"], MUTANTS))
