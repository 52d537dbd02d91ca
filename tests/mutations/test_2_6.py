"""Mutation tests of 2.6 (RoPE context extension): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from positional_encoding_common import SC

from grader.course import POSITIONAL_ENCODING

PACKAGE = POSITIONAL_ENCODING.package  # mutants edit files of reference/positional_encoding/

LINEAR = "        return positions / factor, base\n"
NTK = '    return positions, base * factor ** (head_dim / (head_dim - 2))  # kind == "ntk"\n'

MUTANTS = [
    Mutant("linear_multiplies", "2.6", SC, ((LINEAR, "        return positions * factor, base\n"),),
           ("linear_interpolation",), "p -> p / factor"),
    Mutant("linear_scales_base", "2.6", SC,
           ((LINEAR, "        return positions, base * factor\n"),),
           ("linear_interpolation",), "p -> p / factor"),
    Mutant("ntk_base_times_s", "2.6", SC, ((NTK, "    return positions, base * factor\n"),),
           ("ntk_base_scaling",), "You used base * s"),
    Mutant("ntk_moves_positions", "2.6", SC,
           ((NTK, NTK.replace("return positions,", "return positions / factor,")),),
           ("ntk_base_scaling",), "changes the base only"),
    Mutant("ntk_exponent_inverted", "2.6", SC,
           ((NTK, NTK.replace("(head_dim / (head_dim - 2))", "((head_dim - 2) / head_dim)")),),
           ("ntk_base_scaling",), "base should become"),
]

# Mutants no check catches yet (real gaps of the grader, reported, not weakened); none now.
GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("ntk_base_times_s", "ntk_base_scaling", "d / (d - 2)", ""),
    ("ntk_moves_positions", "ntk_base_scaling", "changes the base only", "base should become"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["2.6"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, blame_gaps=BLAME_GAPS))
