"""Mutation tests of 2.3 (RoPE, half-split layout): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)
from positional_encoding_common import RP

from grader.course import POSITIONAL_ENCODING

PACKAGE = POSITIONAL_ENCODING.package  # mutants edit files of reference/positional_encoding/

ROTATE_HALF = "    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)\n"
INV_FREQ = "    inv_freq = 1.0 / base ** (np.arange(0, head_dim, 2) / head_dim)  # (D/2,)\n"
EMB = ("    emb = np.concatenate([freqs, freqs], axis=-1)"
       "  # (T, D): dims i and i + D/2 share an angle\n")
TABLES = "    return np.cos(emb), np.sin(emb)\n"
FWD_CAST = ("    cos = np.asarray(cos).astype(x.dtype, copy=False)\n"
            "    sin = np.asarray(sin).astype(x.dtype, copy=False)\n")
FWD = "    return x * cos + rotate_half(x) * sin\n"
BWD_CAST = ("    cos = np.asarray(cos).astype(dout.dtype, copy=False)\n"
            "    sin = np.asarray(sin).astype(dout.dtype, copy=False)\n")
BWD = "    return dout * cos - rotate_half(dout) * sin\n"

# Meta's / GPT-J's rotation of adjacent pairs, written into the half-split apply_rope.
ADJACENT_WITH_FIRST_HALF = (
    "    half = x.shape[-1] // 2\n"
    "    c, s = cos[..., :half], sin[..., :half]\n"
    "    a, b = x[..., 0::2], x[..., 1::2]\n"
    "    return np.stack([a * c - b * s, a * s + b * c], axis=-1).reshape(x.shape)\n")
ROTATE_EVERY_TWO = (  # GPT-J's rotate_every_two with the half-split tables as they are
    "    rotated = np.stack([-x[..., 1::2], x[..., 0::2]], axis=-1).reshape(x.shape)\n"
    "    return x * cos + rotated * sin\n")

MUTANTS = [
    Mutant("rope_tables_interleaved", "2.3", RP,
           ((EMB, "    emb = np.repeat(freqs, 2, axis=-1)\n"),),
           ("rope_tables", "rope_relative_property"), "interleaved layout"),
    Mutant("rope_tables_swapped", "2.3", RP, ((TABLES, "    return np.sin(emb), np.cos(emb)\n"),),
           ("rope_tables", "rope_relative_property"), "cos and sin are swapped"),
    Mutant("rope_tables_not_doubled", "2.3", RP,  # Meta's (T, D/2) angles
           ((EMB, "    emb = freqs\n"),),
           ("rope_tables", "rope_relative_property"), "has shape (5, 4), expected (5, 8)"),
    Mutant("rope_exponent_i_over_d", "2.3", RP,
           ((INV_FREQ, "    inv_freq = 1.0 / base ** (np.arange(head_dim // 2) / head_dim)\n"),),
           ("rope_tables", "rope_relative_property"), "base^(-2i/head_dim)"),
    Mutant("rope_exponent_positive", "2.3", RP,
           ((INV_FREQ, "    inv_freq = base ** (np.arange(0, head_dim, 2) / head_dim)\n"),),
           ("rope_tables", "rope_relative_property"), "base^(-2i/head_dim)"),
    Mutant("rope_fwd_adjacent_pairs", "2.3", RP, ((FWD, ADJACENT_WITH_FIRST_HALF),),
           ("apply_rope_values", "apply_rope_float32"), "interleaved layout"),
    Mutant("rope_fwd_rotate_every_two", "2.3", RP, ((FWD, ROTATE_EVERY_TWO),),
           ("rope_relative_property", "apply_rope_values", "apply_rope_float32"),
           "changed vector norms"),
    Mutant("rope_fwd_sign_slip", "2.3", RP, ((FWD, FWD.replace("+ rotate", "- rotate")),),
           ("apply_rope_values", "apply_rope_float32"), "rotates the wrong way"),
    Mutant("rope_rotate_half_sign_slip", "2.3", RP,
           ((ROTATE_HALF, ROTATE_HALF.replace("[-x[..., half:], x[..., :half]]",
                                              "[x[..., half:], -x[..., :half]]")),),
           ("apply_rope_values", "apply_rope_backward_is_inverse"), "rotates the wrong way"),
    Mutant("rope_bwd_forward_again", "2.3", RP, ((BWD, BWD.replace("- rotate", "+ rotate")),),
           ("apply_rope_backward_is_inverse",), "applies the forward rotation again"),
    Mutant("rope_fwd_float64", "2.3", RP,
           ((FWD_CAST, "    cos, sin = np.asarray(cos), np.asarray(sin)\n"),),
           ("apply_rope_float32",), "apply_rope(float32 x) has dtype float64"),
    Mutant("rope_bwd_float64", "2.3", RP,
           ((BWD_CAST, "    cos, sin = np.asarray(cos), np.asarray(sin)\n"),),
           ("apply_rope_float32",), "apply_rope_backward(float32 dout) has dtype float64"),
]

# Mutants no check catches yet (real gaps of the grader, reported, not weakened); none now.
GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain): bugs whose
# message must point at the right fix.
DIAGNOSED = [
    ("rope_bwd_forward_again", "apply_rope_backward_is_inverse", "use -sin", ""),
    ("rope_fwd_sign_slip", "apply_rope_values", "x * cos + rotate_half(x) * sin", ""),
    ("rope_rotate_half_sign_slip", "apply_rope_backward_is_inverse", "rotate_half", ""),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# (mutant, check, message that would blame code the mutant left correct): a bug in one
# function must not be reported as a bug of another that is right.  The check may pass, or
# fail saying the other function is not right yet, but not claim the untouched code is wrong.
NOT_BLAMED = [
    ("rope_tables_interleaved", "apply_rope_values", "apply_rope(x, cos, sin) is wrong"),
    ("rope_bwd_forward_again", "apply_rope_values", "apply_rope(x, cos, sin) is wrong"),
    ("rope_fwd_sign_slip", "apply_rope_backward_is_inverse",
     "apply_rope_backward (finite differences) is wrong"),
    ("rope_fwd_adjacent_pairs", "apply_rope_backward_is_inverse",
     "apply_rope_backward (finite differences) is wrong"),
    ("rope_fwd_rotate_every_two", "apply_rope_backward_is_inverse",
     "apply_rope_backward (finite differences) is wrong"),
]

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["2.3"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED,
                                blame_gaps=BLAME_GAPS))
