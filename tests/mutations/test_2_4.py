"""Mutation tests of 2.4 (RoPE, interleaved layout): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from positional_encoding_common import F32, RI

from grader.course import POSITIONAL_ENCODING

PACKAGE = POSITIONAL_ENCODING.package  # mutants edit files of reference/positional_encoding/

I_COS = ("    c = np.asarray(cos)[..., :half].astype(x.dtype, copy=False)"
         "  # (T, D/2): angle of pair i\n")
I_SIN = "    s = np.asarray(sin)[..., :half].astype(x.dtype, copy=False)\n"
I_PAIRS = ("    a, b = x[..., 0::2], x[..., 1::2]"
           "  # (..., T, D/2) each: the two members of pair i\n")
I_ROT = "    rotated = np.stack([a * c - b * s, a * s + b * c], axis=-1)  # (..., T, D/2, 2)\n"
I_RET = ("    return rotated.reshape(rotated.shape[:-2] + (2 * half,))"
         "  # interleave back: (..., T, D)\n")

NO_SHAPE_CHECK = """
def apply_rope_interleaved(x, cos, sin):  # a rewrite without the given _check_inputs
    half = x.shape[-1] // 2
    c, s = np.asarray(cos)[..., :half], np.asarray(sin)[..., :half]
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.stack([a * c - b * s, a * s + b * c], axis=-1)
    return out.reshape(out.shape[:-2] + (2 * half,)).astype(x.dtype)
"""

MUTANTS = [
    Mutant("inter_half_split_pairs", "2.4", RI,
           ((I_PAIRS, "    a, b = x[..., :half], x[..., half:]\n"),
            (I_RET, "    return np.concatenate([rotated[..., 0], rotated[..., 1]], axis=-1)\n")),
           ("interleaved_values", "interleaved_properties", "interleaved_float32"),
           "gives the half-split result", diagnosis="it pairs dimensions (i, i + head_dim/2)"),
    Mutant("inter_not_interleaved_back", "2.4", RI,
           ((I_RET, "    return np.concatenate([rotated[..., 0], rotated[..., 1]], axis=-1)\n"),),
           ("interleaved_values", "interleaved_properties"), "out[2i] = x[2i] c - x[2i+1] s",
           diagnosis="two halves instead of interleaved"),
    Mutant("inter_table_every_other_entry", "2.4", RI,  # pair i read at cos[2i], not cos[i]
           ((I_COS, I_COS.replace("[..., :half]", "[..., 0::2]")),
            (I_SIN, I_SIN.replace("[..., :half]", "[..., 0::2]"))),
           ("interleaved_values", "interleaved_properties"), "first half of the tables",
           diagnosis="pair i reads cos[:, 2i]"),
    Mutant("inter_sign_slip", "2.4", RI,
           ((I_ROT, "    rotated = np.stack([a * c + b * s, b * c - a * s], axis=-1)\n"),),
           ("interleaved_values", "interleaved_properties"), "out[2i] = x[2i] c - x[2i+1] s",
           diagnosis="the sin terms have the wrong sign"),
    Mutant("inter_float64", "2.4", RI,
           ((I_COS, "    c = np.asarray(cos)[..., :half]\n"),
            (I_SIN, "    s = np.asarray(sin)[..., :half]\n")),
           ("interleaved_float32",), F32),
    # -- stated errors: a rewrite that dropped the given shape checks --
    Mutant("inter_no_shape_check", "2.4", RI, (), ("interleaved_bad_shapes",),
           "apply_rope_interleaved(x of shape (2, 3, 1, 8), cos and sin of shape (5, 8)): "
           "expected ValueError", append=NO_SHAPE_CHECK),
]

# Mutants no check catches yet (real gaps of the grader, reported, not weakened); none now.
GAPS: dict[str, str] = {}

DIAGNOSIS_GAPS: dict[str, str] = {}

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["2.4"], MUTANTS, gaps=GAPS,
                                diagnosis_gaps=DIAGNOSIS_GAPS, blame_gaps=BLAME_GAPS))
