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

IN_PLACE = """
def rope_scaling(positions, head_dim, base, scaling):
    kind, factor = _parse_scaling(scaling, head_dim)
    positions = np.asarray(positions, dtype=np.float64)  # no copy for float64 positions
    if kind == "linear":
        positions /= factor
        return positions, float(base)
    return positions, float(base) * factor ** (head_dim / (head_dim - 2))
"""
NO_PARSE = """
def rope_scaling(positions, head_dim, base, scaling):
    kind = scaling.get("type", scaling.get("rope_type"))
    factor = float(scaling["factor"])
    positions = np.array(positions, dtype=np.float64)
    if kind == "linear":
        return positions / factor, float(base)
    return positions, float(base) * factor ** (head_dim / (head_dim - 2))
"""

MUTANTS = [
    Mutant("linear_multiplies", "2.6", SC, ((LINEAR, "        return positions * factor, base\n"),),
           ("linear_interpolation",), "p -> p / factor",
           diagnosis="the positions are multiplied by the factor"),
    Mutant("linear_scales_base", "2.6", SC,
           ((LINEAR, "        return positions, base * factor\n"),),
           ("linear_interpolation",), "p -> p / factor",
           diagnosis="the base is scaled instead of the positions"),
    Mutant("ntk_base_times_s", "2.6", SC, ((NTK, "    return positions, base * factor\n"),),
           ("ntk_base_scaling",), "multiplied by s alone",
           diagnosis="the base is multiplied by s alone"),
    Mutant("ntk_moves_positions", "2.6", SC,
           ((NTK, NTK.replace("return positions,", "return positions / factor,")),),
           ("ntk_base_scaling",), "changes the base only"),
    Mutant("ntk_exponent_inverted", "2.6", SC,
           ((NTK, NTK.replace("(head_dim / (head_dim - 2))", "((head_dim - 2) / head_dim)")),),
           ("ntk_base_scaling",), "base should become",
           diagnosis="the exponent is inverted"),
    # -- inputs modified in place: a float64 conversion does not copy float64 positions, and
    # the checks passed integer ones, which it does copy --
    Mutant("linear_divides_in_place", "2.6", SC, (), ("linear_interpolation",),
           "modified one of its inputs in place", append=IN_PLACE),
    # -- stated errors: a rewrite that reads the dict without the given _parse_scaling --
    Mutant("scaling_no_parse", "2.6", SC, (), ("scaling_bad_dicts",),
           "rope_scaling with scaling = the string 'linear': expected ValueError",
           append=NO_PARSE),
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
