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

DEFAULT_BASE_500K = """
_given = rope_cos_sin
def rope_cos_sin(positions, head_dim, base=500000.0, scaling=None):  # LLaMA 3's theta
    return _given(positions, head_dim, base=base, scaling=scaling)
"""
BWD_OF_ONES = """
def apply_rope_backward(dout, cos, sin):  # d(out)/dx summed: the upstream gradient dropped
    ones = np.ones_like(dout)
    return ones * cos - rotate_half(ones) * sin
"""
BWD_COS_ONLY = """
def apply_rope_backward(dout, cos, sin):  # "d(x * cos)/dx = cos"
    _check_rope_inputs(dout, cos, sin, "apply_rope_backward")
    return dout * np.asarray(cos).astype(dout.dtype, copy=False)
"""
ANGLES_FLOAT32 = """
_given = rope_cos_sin
def rope_cos_sin(positions, head_dim, base=10000.0, scaling=None):
    positions = np.asarray(positions, dtype=np.float32)  # float32 angles, float64 tables
    inv_freq = (1.0 / base ** (np.arange(0, head_dim, 2) / head_dim)).astype(np.float32)
    freqs = positions[:, None] * inv_freq[None, :]
    emb = np.concatenate([freqs, freqs], axis=-1).astype(np.float64)
    return np.cos(emb), np.sin(emb)
"""
FWD_NO_CHECK = """
def apply_rope(x, cos, sin):  # a rewrite without the given _check_rope_inputs
    return x * np.asarray(cos).astype(x.dtype) + rotate_half(x) * np.asarray(sin).astype(x.dtype)
"""
TABLES_NO_CHECKS = """
def rope_cos_sin(positions, head_dim, base=10000.0, scaling=None):  # a rewrite, no checks
    positions = np.asarray(positions, dtype=np.float64)
    inv_freq = 1.0 / base ** (np.arange(0, head_dim, 2) / head_dim)
    freqs = positions[..., None] * inv_freq
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb), np.sin(emb)
"""

MUTANTS = [
    Mutant("rope_tables_interleaved", "2.3", RP,
           ((EMB, "    emb = np.repeat(freqs, 2, axis=-1)\n"),),
           ("rope_tables", "rope_relative_property"), "interleaved layout",
           diagnosis="the interleaved layout"),
    Mutant("rope_tables_swapped", "2.3", RP, ((TABLES, "    return np.sin(emb), np.cos(emb)\n"),),
           ("rope_tables", "rope_relative_property"), "cos and sin are swapped",
           diagnosis="cos and sin are swapped"),
    Mutant("rope_tables_not_doubled", "2.3", RP,  # Meta's (T, D/2) angles
           ((EMB, "    emb = freqs\n"),),
           ("rope_tables", "rope_relative_property"), "has shape (5, 4), expected (5, 8)"),
    Mutant("rope_exponent_i_over_d", "2.3", RP,
           ((INV_FREQ, "    inv_freq = 1.0 / base ** (np.arange(head_dim // 2) / head_dim)\n"),),
           ("rope_tables", "rope_relative_property"), "base^(-2i/head_dim)",
           diagnosis="the exponent is -i/head_dim instead of -2i/head_dim"),
    Mutant("rope_exponent_positive", "2.3", RP,
           ((INV_FREQ, "    inv_freq = base ** (np.arange(0, head_dim, 2) / head_dim)\n"),),
           ("rope_tables", "rope_relative_property"), "base^(-2i/head_dim)",
           diagnosis="the exponent's sign is flipped"),
    Mutant("rope_fwd_adjacent_pairs", "2.3", RP, ((FWD, ADJACENT_WITH_FIRST_HALF),),
           ("apply_rope_values", "apply_rope_float32"), "interleaved layout",
           diagnosis="the interleaved layout"),
    Mutant("rope_fwd_rotate_every_two", "2.3", RP, ((FWD, ROTATE_EVERY_TWO),),
           ("rope_relative_property", "apply_rope_values", "apply_rope_float32"),
           "changed vector norms"),
    Mutant("rope_fwd_sign_slip", "2.3", RP, ((FWD, FWD.replace("+ rotate", "- rotate")),),
           ("apply_rope_values", "apply_rope_float32"), "rotates the wrong way",
           diagnosis="term has the wrong sign"),
    Mutant("rope_rotate_half_sign_slip", "2.3", RP,
           ((ROTATE_HALF, ROTATE_HALF.replace("[-x[..., half:], x[..., :half]]",
                                              "[x[..., half:], -x[..., :half]]")),),
           ("apply_rope_values", "apply_rope_backward_is_inverse"), "rotates the wrong way",
           diagnosis="term has the wrong sign"),
    Mutant("rope_bwd_forward_again", "2.3", RP, ((BWD, BWD.replace("- rotate", "+ rotate")),),
           ("apply_rope_backward_is_inverse",), "applies the forward rotation again",
           diagnosis="term has the wrong sign"),
    Mutant("rope_fwd_float64", "2.3", RP,
           ((FWD_CAST, "    cos, sin = np.asarray(cos), np.asarray(sin)\n"),),
           ("apply_rope_float32",), "apply_rope(float32 x) has dtype float64"),
    Mutant("rope_bwd_float64", "2.3", RP,
           ((BWD_CAST, "    cos, sin = np.asarray(cos), np.asarray(sin)\n"),),
           ("apply_rope_float32",), "apply_rope_backward(float32 dout) has dtype float64"),
    # -- a default never used: the base of the tables when none is passed --
    Mutant("rope_default_base_wrong", "2.3", RP, (), ("rope_tables",),
           "called without base", append=DEFAULT_BASE_500K,
           diagnosis="the default of base is not 10000"),
    # -- backward slips: the upstream gradient ignored, a term dropped --
    Mutant("rope_bwd_ignores_dout", "2.3", RP, (), ("apply_rope_backward_is_inverse",),
           "doubling dout leaves dx unchanged", append=BWD_OF_ONES,
           diagnosis="it ignores dout"),
    Mutant("rope_bwd_missing_rotate_term", "2.3", RP, (), ("apply_rope_backward_is_inverse",),
           "term is missing", append=BWD_COS_ONLY,
           diagnosis="the rotate_half(dout) * sin term is missing"),
    # -- numerics below the tolerance: angles in float32 are off only at far positions --
    Mutant("rope_angles_float32", "2.3", RP, (), ("rope_long_positions", "rope_tables"),
           "computed in float64", append=ANGLES_FLOAT32),
    # -- stated errors: rewrites that dropped the given shape checks --
    Mutant("rope_fwd_no_shape_check", "2.3", RP, (), ("rope_bad_shapes",),
           "apply_rope(x of shape (2, 3, 1, 8), cos and sin of shape (5, 8)): expected "
           "ValueError", append=FWD_NO_CHECK),
    Mutant("rope_tables_no_checks", "2.3", RP, (), ("rope_bad_shapes",),
           "rope_cos_sin(positions of shape (2, 3), 8): expected ValueError",
           append=TABLES_NO_CHECKS),
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
