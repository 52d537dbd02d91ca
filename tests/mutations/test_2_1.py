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

WITH_DEFAULTS = """
_given = sinusoidal_positional_encoding
def sinusoidal_positional_encoding(t, d, base={base}, dtype={dtype}):
    return _given(t, d, base=base, dtype=dtype)
"""
COMPUTED_IN_DTYPE = """
def sinusoidal_positional_encoding(t, d, base=10000.0, dtype=np.float64):
    positions = np.arange(t, dtype=dtype)[:, None]  # the angles in float32 for float32
    w = (base ** (-np.arange(0, d, 2) / d)).astype(dtype)
    angles = positions * w[None, :]
    pe = np.empty((t, d), dtype=dtype)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d // 2])
    return pe
"""
NO_SIZE_CHECKS = """
def sinusoidal_positional_encoding(t, d, base=10000.0, dtype=np.float64):
    angles = np.arange(t, dtype=np.float64)[:, None] * base ** (-np.arange(0, d, 2) / d)
    pe = np.empty((t, d))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d // 2])
    return pe.astype(dtype)
"""

MUTANTS = [
    Mutant("sin_cos_swapped", "2.1", SN,
           ((SIN_EVEN, "    pe[:, 0::2] = np.cos(angles)\n"),
            (SIN_ODD, "    pe[:, 1::2] = np.sin(angles[:, : d // 2])\n")),
           ("sinusoidal_values", "sinusoidal_linear_shift", "sinusoidal_dtype_and_edges"),
           "sin and cos are swapped", diagnosis="sin and cos are swapped"),
    Mutant("sin_exponent_i_over_d", "2.1", SN,  # i counts pairs, but the 2 of 2i/d is lost
           ((SIN_W, "    w = base ** (-np.arange((d + 1) // 2) / d)\n"),),
           ("sinusoidal_values", "sinusoidal_linear_shift"), "base^(-2i/d)",
           diagnosis="the exponent is -i/d instead of -2i/d"),
    Mutant("sin_exponent_positive", "2.1", SN,
           ((SIN_W, "    w = base ** (np.arange(0, d, 2) / d)\n"),),
           ("sinusoidal_values", "sinusoidal_linear_shift"), "base^(-2i/d)",
           diagnosis="the exponent's sign is flipped"),
    Mutant("sin_base_hardcoded", "2.1", SN, ((SIN_W, SIN_W.replace("base **", "10000.0 **")),),
           ("sinusoidal_values",), "base argument is ignored",
           diagnosis="the base argument is ignored"),
    Mutant("sin_odd_d_no_trim", "2.1", SN, ((SIN_ODD, "    pe[:, 1::2] = np.cos(angles)\n"),),
           ("sinusoidal_values",), "With odd d="),
    Mutant("sin_positions_from_one", "2.1", SN,
           ((SIN_POS, "    positions = np.arange(1, t + 1, dtype=np.float64)[:, None]\n"),),
           ("sinusoidal_values", "sinusoidal_linear_shift", "sinusoidal_dtype_and_edges"),
           "rows start at position 1", diagnosis="the rows start at position 1 instead of 0"),
    Mutant("sin_concatenated_halves", "2.1", SN,  # tensor2tensor's [sin..., cos...] layout
           ((SIN_EVEN, "    pe[:, : (d + 1) // 2] = np.sin(angles)\n"),
            (SIN_ODD, "    pe[:, (d + 1) // 2 :] = np.cos(angles[:, : d // 2])\n")),
           ("sinusoidal_values", "sinusoidal_linear_shift", "sinusoidal_dtype_and_edges"),
           "instead of alternating", diagnosis="the sin columns come first"),
    Mutant("sin_dtype_ignored", "2.1", SN, ((SIN_CAST, "    return pe\n"),),
           ("sinusoidal_dtype_and_edges", "sinusoidal_float32_long"), F32),
    # -- defaults never used: the checks passed base (and dtype) explicitly --
    Mutant("sin_default_base_wrong", "2.1", SN, (), ("sinusoidal_default_base",),
           "the default of base is not 10000", append=WITH_DEFAULTS.format(base=1000.0,
                                                                           dtype="np.float64"),
           diagnosis="the default of base is not 10000"),
    Mutant("sin_default_dtype_float32", "2.1", SN, (), ("sinusoidal_values",),
           "default of dtype", append=WITH_DEFAULTS.format(base=10000.0, dtype="np.float32"),
           diagnosis="the default of dtype is not np.float64"),
    # -- numerics below the tolerance: float32 angles are fine at short lengths only --
    Mutant("sin_computes_in_dtype", "2.1", SN, (), ("sinusoidal_float32_long",),
           "computed in float64", append=COMPUTED_IN_DTYPE),
    # -- stated errors: a rewrite that dropped the given size checks --
    Mutant("sin_no_size_checks", "2.1", SN, (), ("sinusoidal_bad_arguments",),
           "sinusoidal_positional_encoding(3, 0): expected ValueError", append=NO_SIZE_CHECKS),
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
