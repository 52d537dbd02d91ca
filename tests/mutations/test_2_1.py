"""Mutation tests of 2.1 (Sinusoidal encoding): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from positional_encoding_common import F32, SN

from grader.course import POSITIONAL_ENCODING

PACKAGE = POSITIONAL_ENCODING.package  # mutants edit files of reference/positional_encoding/

SIN_POS = "    positions = np.arange(t, dtype=np.float64)[:, None]  # (t, 1)\n"
SIN_W = ("    w = base ** (-np.arange(0, d, 2) / d)"
         "  # (ceil(d/2),) frequencies w_i, exponent -2i/d\n")
SIN_EVEN = "    pe[:, 0::2] = np.sin(angles)  # ceil(d/2) even columns\n"
SIN_ODD = "    pe[:, 1::2] = np.cos(angles[:, : d // 2])  # floor(d/2) odd columns\n"
SIN_CAST = "    return pe.astype(dtype, copy=False)\n"

MUTANTS = [
    Mutant("sin_cos_swapped", "2.1", SN,
           ((SIN_EVEN, "    pe[:, 0::2] = np.cos(angles)\n"),
            (SIN_ODD, "    pe[:, 1::2] = np.sin(angles[:, : d // 2])\n")),
           ("sinusoidal_values", "sinusoidal_linear_shift", "sinusoidal_dtype_and_edges"),
           "sin and cos are swapped"),
    Mutant("sin_exponent_i_over_d", "2.1", SN,  # i counts pairs, but the 2 of 2i/d is lost
           ((SIN_W, "    w = base ** (-np.arange((d + 1) // 2) / d)\n"),),
           ("sinusoidal_values", "sinusoidal_linear_shift"), "base^(-2i/d)"),
    Mutant("sin_exponent_positive", "2.1", SN,
           ((SIN_W, "    w = base ** (np.arange(0, d, 2) / d)\n"),),
           ("sinusoidal_values", "sinusoidal_linear_shift"), "base^(-2i/d)"),
    Mutant("sin_base_hardcoded", "2.1", SN, ((SIN_W, SIN_W.replace("base **", "10000.0 **")),),
           ("sinusoidal_values",), "first pair is right but later ones are not"),
    Mutant("sin_odd_d_no_trim", "2.1", SN, ((SIN_ODD, "    pe[:, 1::2] = np.cos(angles)\n"),),
           ("sinusoidal_values",), "With odd d="),
    Mutant("sin_positions_from_one", "2.1", SN,
           ((SIN_POS, "    positions = np.arange(1, t + 1, dtype=np.float64)[:, None]\n"),),
           ("sinusoidal_values", "sinusoidal_linear_shift", "sinusoidal_dtype_and_edges"),
           "is wrong at index"),
    Mutant("sin_concatenated_halves", "2.1", SN,  # tensor2tensor's [sin..., cos...] layout
           ((SIN_EVEN, "    pe[:, : (d + 1) // 2] = np.sin(angles)\n"),
            (SIN_ODD, "    pe[:, (d + 1) // 2 :] = np.cos(angles[:, : d // 2])\n")),
           ("sinusoidal_values", "sinusoidal_linear_shift", "sinusoidal_dtype_and_edges"),
           "is wrong at index"),
    Mutant("sin_dtype_ignored", "2.1", SN, ((SIN_CAST, "    return pe\n"),),
           ("sinusoidal_dtype_and_edges",), F32),
]

# Mutants no check catches yet (real gaps of the grader, reported, not weakened); none now.
GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    # Once misdiagnosed, now pinned.
    ("sin_positions_from_one", "sinusoidal_values", "", "odd d"),
    ("sin_concatenated_halves", "sinusoidal_values", "", "odd d"),
    ("sin_odd_d_no_trim", "sinusoidal_values", "odd d", "keepdims"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["2.1"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, blame_gaps=BLAME_GAPS))
