"""Mutation tests of the Module 2 checks: every check fails on a plausible student bug, and
its message names the bug.

The harness of `mutation.py` (shared by every module): each mutant copies `reference/` into
a temporary `submission/`, replaces a line (or a few) of a solution in
`reference/positional_encoding/` with a typical mistake, grades only the affected exercise,
and asserts that (a) the exercise loses points, (b) the named checks fail (or error, when
the bug raises), and (c) the first named check's message contains the phrase that tells the
student what to fix.

`DIAGNOSED` keeps bugs whose message must point at the right fix, and `NOT_BLAMED` bugs in
one function that must not be reported as a bug of another, correct one.  Known grader gaps
(a bug no check catches, a message that points at the wrong fix) are `xfail(strict=True)`
with the reason (`GAPS`, `DIAGNOSIS_GAPS`, `BLAME_GAPS`), so fixing the grader turns them
into an XPASS that asks for the mark to go.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import POSITIONAL_ENCODING, select

PACKAGE = POSITIONAL_ENCODING.package  # mutants edit files of reference/positional_encoding/
MODULE_2 = [ex.id for ex in select(None) if ex.module == POSITIONAL_ENCODING]

# Lines of the reference solutions, quoted exactly.
# 2.1 sinusoidal.py
SIN_POS = "    positions = np.arange(t, dtype=np.float64)[:, None]  # (t, 1)\n"
SIN_W = ("    w = base ** (-np.arange(0, d, 2) / d)"
         "  # (ceil(d/2),) frequencies w_i, exponent -2i/d\n")
SIN_EVEN = "    pe[:, 0::2] = np.sin(angles)  # ceil(d/2) even columns\n"
SIN_ODD = "    pe[:, 1::2] = np.cos(angles[:, : d // 2])  # floor(d/2) odd columns\n"
SIN_CAST = "    return pe.astype(dtype, copy=False)\n"
# 2.2 embedding.py
EMB_OUT = "    out = table[ids]  # fancy indexing copies: (...) ids -> (..., C)\n"
EMB_ZEROS = '    dtable = np.zeros(cache["table_shape"], dtype=cache["dtype"])  # (V, C)\n'
EMB_ADD = ("    c = dtable.shape[1]\n"
           "    flat_ids = (ids.reshape(-1, 1).astype(np.intp) * c + np.arange(c)).reshape(-1)"
           "  # (N*C,)\n"
           "    np.add.at(dtable.reshape(-1), flat_ids, np.reshape(dout, -1))\n")
# 2.3 rope.py
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
# 2.4 rope_interleaved.py
I_COS = ("    c = np.asarray(cos)[..., :half].astype(x.dtype, copy=False)"
         "  # (T, D/2): angle of pair i\n")
I_SIN = "    s = np.asarray(sin)[..., :half].astype(x.dtype, copy=False)\n"
I_PAIRS = ("    a, b = x[..., 0::2], x[..., 1::2]"
           "  # (..., T, D/2) each: the two members of pair i\n")
I_ROT = "    rotated = np.stack([a * c - b * s, a * s + b * c], axis=-1)  # (..., T, D/2, 2)\n"
I_RET = ("    return rotated.reshape(rotated.shape[:-2] + (2 * half,))"
         "  # interleave back: (..., T, D)\n")
# 2.5 alibi.py
POW2 = "        return 2.0 ** (-8.0 * np.arange(1, n + 1) / n)\n"
EXTRA = ("    extra = power_of_two_slopes(2 * m)[0::2][: n_heads - m]"
         "  # empty when n_heads == m\n")
SLOPES = "    return np.concatenate([power_of_two_slopes(m), extra])\n"
QPOS = "    i = np.arange(t_q)[:, None] + (t_k - t_q)  # (t_q, 1) absolute query positions\n"
BIAS = ("    return slopes[:, None, None] * (j - i)[None, :, :]"
        "  # -slope * (i - j): (H, t_q, t_k)\n")
# 2.6 rope_scaling.py
LINEAR = "        return positions / factor, base\n"
NTK = '    return positions, base * factor ** (head_dim / (head_dim - 2))  # kind == "ntk"\n'

SN, EM, RP, RI, AL, SC = ("sinusoidal.py", "embedding.py", "rope.py", "rope_interleaved.py",
                          "alibi.py", "rope_scaling.py")
F32 = "expected float32"
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
    # 2.1 sinusoidal encoding
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
    # 2.2 learned embedding
    Mutant("emb_bwd_overwrites_repeats", "2.2", EM, ((EMB_ADD, "    dtable[ids] = dout\n"),),
           ("embedding_backward_scatter_add", "embedding_backward_finite_differences"),
           "overwrites repeated ids"),
    Mutant("emb_bwd_fancy_plus_equals", "2.2", EM, ((EMB_ADD, "    dtable[ids] += dout\n"),),
           ("embedding_backward_scatter_add", "embedding_backward_finite_differences"),
           "must accumulate (np.add.at)"),
    Mutant("emb_bwd_onehot_sums_batch_only", "2.2", EM,
           ((EMB_ZEROS, '    onehot = np.eye(cache["table_shape"][0])[ids]  # (..., V)\n'),
            (EMB_ADD, "    dtable = (onehot[..., None] * dout[..., None, :]).sum(axis=0)\n")),
           ("embedding_backward_scatter_add", "embedding_backward_finite_differences"),
           "has shape (3, 7, 5), expected (7, 5)"),
    Mutant("emb_fwd_onehot_float64", "2.2", EM,  # np.eye is float64: float32 tables promote
           ((EMB_OUT, "    out = np.eye(table.shape[0])[ids] @ table  # one-hot times table\n"),),
           ("embedding_forward",), F32),
    Mutant("emb_fwd_flattened", "2.2", EM, ((EMB_OUT, "    out = table[ids.reshape(-1)]\n"),),
           ("embedding_forward", "embedding_backward_finite_differences"),
           "has shape (6, 5), expected (2, 3, 5)"),
    Mutant("emb_bwd_float64", "2.2", EM,  # np.zeros without the table's dtype
           ((EMB_ZEROS, '    dtable = np.zeros(cache["table_shape"])  # (V, C)\n'),),
           ("embedding_backward_scatter_add",), F32),
    # 2.3 RoPE, half-split layout
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
    # 2.4 RoPE, interleaved layout
    Mutant("inter_half_split_pairs", "2.4", RI,
           ((I_PAIRS, "    a, b = x[..., :half], x[..., half:]\n"),
            (I_RET, "    return np.concatenate([rotated[..., 0], rotated[..., 1]], axis=-1)\n")),
           ("interleaved_values", "interleaved_properties", "interleaved_float32"),
           "gives the half-split result"),
    Mutant("inter_not_interleaved_back", "2.4", RI,
           ((I_RET, "    return np.concatenate([rotated[..., 0], rotated[..., 1]], axis=-1)\n"),),
           ("interleaved_values", "interleaved_properties"), "out[2i] = x[2i] c - x[2i+1] s"),
    Mutant("inter_table_every_other_entry", "2.4", RI,  # pair i read at cos[2i], not cos[i]
           ((I_COS, I_COS.replace("[..., :half]", "[..., 0::2]")),
            (I_SIN, I_SIN.replace("[..., :half]", "[..., 0::2]"))),
           ("interleaved_values", "interleaved_properties"), "first half of the tables"),
    Mutant("inter_sign_slip", "2.4", RI,
           ((I_ROT, "    rotated = np.stack([a * c + b * s, b * c - a * s], axis=-1)\n"),),
           ("interleaved_values", "interleaved_properties"), "out[2i] = x[2i] c - x[2i+1] s"),
    Mutant("inter_float64", "2.4", RI,
           ((I_COS, "    c = np.asarray(cos)[..., :half]\n"),
            (I_SIN, "    s = np.asarray(sin)[..., :half]\n")),
           ("interleaved_float32",), F32),
    # 2.5 ALiBi
    Mutant("alibi_naive_slopes_for_all_n", "2.5", AL,
           ((SLOPES, "    return power_of_two_slopes(n_heads)\n"),),
           ("alibi_slopes_values", "alibi_bias_values"), "not a power of two"),
    Mutant("alibi_odd_slopes_of_2m", "2.5", AL, ((EXTRA, EXTRA.replace("[0::2]", "[1::2]")),),
           ("alibi_slopes_values", "alibi_bias_values"), "slopes(2m)[0::2]"),
    Mutant("alibi_slopes_h_from_zero", "2.5", AL,
           ((POW2, POW2.replace("np.arange(1, n + 1)", "np.arange(n)")),),
           ("alibi_slopes_values", "alibi_bias_values"), "2^(-8h/n) for h = 1..n"),
    Mutant("alibi_bias_off_by_one", "2.5", AL,  # "the last key is at t_k - 1"
           ((QPOS, "    i = np.arange(t_q)[:, None] + (t_k - t_q - 1)\n"),),
           ("alibi_bias_values",), "off by one position"),
    Mutant("alibi_bias_top_left", "2.5", AL, ((QPOS, "    i = np.arange(t_q)[:, None]\n"),),
           ("alibi_bias_values",), "top-left aligned"),
    Mutant("alibi_bias_sign", "2.5", AL, ((BIAS, BIAS.replace("(j - i)", "(i - j)")),),
           ("alibi_bias_values",), "wrong sign"),
    Mutant("alibi_bias_abs_distance", "2.5", AL,  # future keys penalised too
           ((BIAS, "    return -slopes[:, None, None] * np.abs(j - i)[None, :, :]\n"),),
           ("alibi_bias_values",), "is wrong at index"),
    # 2.6 RoPE context extension
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
    ("emb_bwd_fancy_plus_equals", "embedding_backward_scatter_add", "np.add.at", ""),
    ("rope_bwd_forward_again", "apply_rope_backward_is_inverse", "use -sin", ""),
    ("alibi_naive_slopes_for_all_n", "alibi_slopes_values", "slopes(2m)[0::2]", ""),
    ("alibi_bias_top_left", "alibi_bias_values", "i + t_k - t_q", "off by one"),
    ("alibi_bias_off_by_one", "alibi_bias_values", "off by one", "top-left"),
    ("ntk_base_times_s", "ntk_base_scaling", "d / (d - 2)", ""),
    ("ntk_moves_positions", "ntk_base_scaling", "changes the base only", "base should become"),
    # Once misdiagnosed, now pinned.
    ("sin_positions_from_one", "sinusoidal_values", "", "odd d"),
    ("sin_concatenated_halves", "sinusoidal_values", "", "odd d"),
    ("sin_odd_d_no_trim", "sinusoidal_values", "odd d", "keepdims"),
    ("rope_fwd_sign_slip", "apply_rope_values", "x * cos + rotate_half(x) * sin", ""),
    ("rope_rotate_half_sign_slip", "apply_rope_backward_is_inverse", "rotate_half", ""),
]
DIAGNOSIS_GAPS: dict[str, str] = {}  # messages that point at the wrong fix; none now

# (mutant, check, message that would blame code the mutant left correct): a bug in one
# function must not be reported as a bug of another that is right.  The check may pass, or
# fail saying the other function is not right yet, but not claim the untouched code is wrong.
NOT_BLAMED = [
    ("emb_fwd_flattened", "embedding_backward_finite_differences",
     "dtable (finite differences) is wrong"),
    ("rope_tables_interleaved", "apply_rope_values", "apply_rope(x, cos, sin) is wrong"),
    ("rope_bwd_forward_again", "apply_rope_values", "apply_rope(x, cos, sin) is wrong"),
    ("rope_fwd_sign_slip", "apply_rope_backward_is_inverse",
     "apply_rope_backward (finite differences) is wrong"),
    ("rope_fwd_adjacent_pairs", "apply_rope_backward_is_inverse",
     "apply_rope_backward (finite differences) is wrong"),
    ("rope_fwd_rotate_every_two", "apply_rope_backward_is_inverse",
     "apply_rope_backward (finite differences) is wrong"),
]
BLAME_GAPS: dict[str, str] = {}  # correct code blamed for another bug; none now


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, MODULE_2, MUTANTS, GAPS, DIAGNOSED, DIAGNOSIS_GAPS,
                                 NOT_BLAMED, BLAME_GAPS))
