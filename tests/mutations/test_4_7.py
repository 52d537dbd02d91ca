"""Mutation tests of 4.7 (int8 and int4 quantization): every check of the exercise fails on
a plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/

Q = "quantization.py"

SCALE8 = "    scale = np.where(absmax > 0, absmax / INT8_MAX, 1.0).astype(np.float32)\n"
Q8 = "    q = np.clip(np.round(w / scale), -INT8_MAX, INT8_MAX).astype(np.int8)\n"
REDUCE = "        reduce = tuple(a for a in range(w.ndim) if a != axis)"
DEQ8 = "    return q.astype(np.float32) * np.asarray(scale, dtype=np.float32)\n"
SCALE4 = "    scales = np.where(absmax > 0, absmax / INT4_MAX, 1.0).astype(np.float32)\n"
ROUND4 = "    q = np.clip(np.round(groups / scales[:, None, :]), -INT4_MAX, INT4_MAX)\n"
GROUPS = "    groups = w.reshape(n_in // group_size, group_size, n_out)  # (G, group_size, out)\n"
NIBBLES = "    nibbles = q.astype(np.uint8) & 0x0F"
PACK = "    packed = nibbles[0::2] | (nibbles[1::2] << 4)"
LOW = "    nibbles[0::2] = packed & 0x0F  # low nibble: row 2i\n"
HIGH = "    nibbles[1::2] = packed >> 4  # high nibble: row 2i+1\n"
SEXT = "    q = np.where(nibbles >= 8, nibbles - 16, nibbles)"
DEQ4 = "    return (groups * scales[:, None, :].astype(np.float32)).reshape(n_in, n_out)\n"
CAST = "    x = x.astype(dtype, copy=False)\n"
LIN8 = "        y = (x @ q.astype(dtype)) * np.reshape(scale, -1).astype(dtype)"
DTYPE = "    dtype = np.result_type(x.dtype, np.float32)\n"
LIN4 = "        y = np.sum(partial * np.asarray(scale, dtype=dtype), axis=-2)"

INT8_DEFAULT_AXIS = """
_quantize_int8 = quantize_int8

def quantize_int8(w, axis=-1):  # per output channel unless told otherwise
    return _quantize_int8(w, axis)
"""

INT8_AXIS_WRAPS = """
_quantize_int8 = quantize_int8

def quantize_int8(w, axis=None):  # any int accepted: axis % ndim
    return _quantize_int8(w, None if axis is None else axis % np.ndim(w))
"""

DEQ4_NO_CHECK = """
def dequantize_int4(packed, scales, group_size):  # no check that the scales fit
    n_in, n_out = 2 * packed.shape[0], packed.shape[1]
    nibbles = np.empty((n_in, n_out), dtype=np.int8)
    nibbles[0::2] = packed & 0x0F
    nibbles[1::2] = packed >> 4
    q = np.where(nibbles >= 8, nibbles - 16, nibbles)
    groups = q.reshape(-1, group_size, n_out).astype(np.float32)
    return (groups * scales[:, None, :].astype(np.float32)).reshape(n_in, n_out)
"""

LINEAR_DEFAULT_GROUP = """
_quantized_linear = quantized_linear

def quantized_linear(x, q, scale, bias=None, group_size=32):  # int4's usual group as default
    return _quantized_linear(x, q, scale, bias, group_size)
"""

MUTANTS = [
    # int8 quantize
    Mutant("int8_scale_over_128", "4.7", Q,
           ((SCALE8, SCALE8.replace("INT8_MAX", "128")),),
           ("int8_per_tensor_by_hand", "int8_per_channel_scales"), "absmax / 128",
           diagnosis="the scale is absmax / 128"),
    Mutant("int8_scale_over_255", "4.7", Q,
           ((SCALE8, SCALE8.replace("INT8_MAX", "255")),),
           ("int8_per_tensor_by_hand", "int8_per_channel_scales"), "absmax / 255",
           diagnosis="the scale is absmax / 255"),
    Mutant("int8_asymmetric_range", "4.7", Q,
           ((SCALE8, SCALE8.replace("INT8_MAX", "128")),
            (Q8, Q8.replace("-INT8_MAX, INT8_MAX", "-128, 127"))),
           ("int8_per_tensor_by_hand",), "the range is symmetric",
           diagnosis="the scale is absmax / 128"),
    Mutant("int8_floor", "4.7", Q, ((Q8, Q8.replace("np.round", "np.floor")),),
           ("int8_per_tensor_by_hand", "int8_per_channel_scales"), "floor (np.floor)",
           diagnosis="q was rounded by floor"),
    Mutant("int8_trunc", "4.7", Q, ((Q8, Q8.replace("np.round", "np.trunc")),),
           ("int8_per_tensor_by_hand",), "truncation toward 0",
           diagnosis="q was rounded by truncation toward 0"),
    Mutant("int8_round_half_away", "4.7", Q,
           ((Q8, "    r = w / scale\n"
                 "    q = np.clip(np.sign(r) * np.floor(np.abs(r) + 0.5), -127, 127)"
                 ".astype(np.int8)\n"),),
           ("int8_per_tensor_by_hand",), "round half away from 0",
           diagnosis="q was rounded by round half away from 0"),
    Mutant("int8_scales_along_wrong_axis", "4.7", Q, ((REDUCE, "        reduce = (axis,)"),),
           ("int8_per_channel_scales", "int8_zero_channel_is_not_nan"),
           "one scale per index of axis 1",
           diagnosis="the absmax is taken over `axis`"),
    Mutant("int8_zero_channel_nan", "4.7", Q,
           ((SCALE8, "    scale = (absmax / INT8_MAX).astype(np.float32)\n"),),
           ("int8_zero_channel_is_not_nan",), "0/0 = NaN",
           diagnosis="the scale of an all-zero channel is 0"),
    Mutant("int8_q_not_cast", "4.7", Q, ((Q8, Q8.replace(".astype(np.int8)", "")),),
           ("int8_per_tensor_by_hand", "int8_per_channel_scales"), "expected int8"),
    Mutant("int8_scale_float64", "4.7", Q, ((SCALE8, SCALE8.replace(".astype(np.float32)", "")),),
           ("int8_per_tensor_by_hand",), "expected float32"),
    Mutant("int8_scale_without_keepdims", "4.7", Q,
           (("    absmax = np.max(np.abs(w), axis=reduce, keepdims=True)\n",
             "    absmax = np.max(np.abs(w), axis=reduce)\n"),),
           ("int8_per_tensor_by_hand", "int8_zero_channel_is_not_nan"), "keepdims=True"),
    # int8 dequantize and linear
    Mutant("dequantize_int8_float64", "4.7", Q,
           ((DEQ8, "    return q * np.asarray(scale, dtype=np.float64)\n"),),
           ("dequantize_int8_and_error_bound",), "expected float32"),
    Mutant("dequantize_int8_divides", "4.7", Q,
           ((DEQ8, "    return q.astype(np.float32) / np.asarray(scale, dtype=np.float32)\n"),),
           ("dequantize_int8_and_error_bound",), "w ≈ q * scale"),
    Mutant("linear_scales_input_channels", "4.7", Q,
           ((LIN8, "        y = (x * np.reshape(scale, -1).astype(dtype)) @ q.astype(dtype)"),),
           ("quantized_linear_int8",), "(x * scale) @ q",
           diagnosis="the scale multiplies the input channels"),
    Mutant("linear_int8_matmul_overflows", "4.7", Q,
           ((CAST, ""), (LIN8, "        y = (x @ q) * np.reshape(scale, -1).astype(dtype)")),
           ("quantized_linear_int8",), "wraps around",
           diagnosis="x @ q is computed in int8"),
    Mutant("linear_always_float64", "4.7", Q,
           ((DTYPE, "    dtype = np.float64\n"),),
           ("quantized_linear_int8",), "expected float32"),
    # int4 quantize / pack
    Mutant("int4_scale_over_8", "4.7", Q, ((SCALE4, SCALE4.replace("INT4_MAX", "8")),),
           ("int4_packing_by_hand", "int4_groups_run_down_columns"), "absmax / 8",
           diagnosis="the scale is absmax / 8"),
    Mutant("int4_floor", "4.7", Q, ((ROUND4, ROUND4.replace("np.round", "np.floor")),),
           ("int4_packing_by_hand", "int4_roundtrip_error_bound"), "floor (np.floor)",
           diagnosis="q was rounded by floor"),
    Mutant("int4_nibbles_swapped", "4.7", Q,
           ((PACK, "    packed = nibbles[1::2] | (nibbles[0::2] << 4)"),),
           ("int4_packing_by_hand", "int4_groups_run_down_columns",
            "int4_roundtrip_error_bound"), "LOW nibble",
           diagnosis="the nibbles are swapped"),
    Mutant("int4_offset_binary", "4.7", Q,
           ((NIBBLES, "    nibbles = (q + 8).astype(np.uint8)"),),
           ("int4_packing_by_hand",), "offset binary", diagnosis="offset binary"),
    Mutant("int4_packed_along_columns", "4.7", Q,
           ((PACK, "    packed = nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)"),),
           ("int4_packing_by_hand",), "pack pairs of ROWS",
           diagnosis="pairs of columns are packed"),
    Mutant("int4_groups_of_flat_entries", "4.7", Q,
           ((GROUPS, "    groups = w.reshape(n_in // group_size, n_out, group_size)"
                     ".transpose(0, 2, 1)\n"),),
           ("int4_groups_run_down_columns",), "flattened row-major",
           diagnosis="runs of the flattened row-major w"),
    Mutant("int4_zero_group_nan", "4.7", Q,
           ((SCALE4, "    scales = (absmax / INT4_MAX).astype(np.float32)\n"),),
           ("int4_groups_run_down_columns",), "0/0 = NaN"),
    # int4 dequantize
    Mutant("int4_no_sign_extension", "4.7", Q, ((SEXT, "    q = nibbles"),),
           ("dequantize_int4_sign_extension", "int4_roundtrip_error_bound"),
           "v - 16", diagnosis="the nibbles are not sign-extended"),
    Mutant("int4_unpack_swapped", "4.7", Q,
           ((LOW, "    nibbles[0::2] = packed >> 4\n"),
            (HIGH, "    nibbles[1::2] = packed & 0x0F\n")),
           ("dequantize_int4_sign_extension", "int4_roundtrip_error_bound"), "LOW nibble",
           diagnosis="the nibbles are swapped"),
    Mutant("int4_unpack_stacked", "4.7", Q,
           ((LOW, "    nibbles[:n_in // 2] = packed & 0x0F\n"),
            (HIGH, "    nibbles[n_in // 2:] = packed >> 4\n")),
           ("dequantize_int4_sign_extension",), "Interleave",
           diagnosis="the rows are not interleaved"),
    Mutant("int4_scales_tiled", "4.7", Q,
           ((DEQ4, "    return q.astype(np.float32) * np.tile(scales, (group_size, 1))\n"),),
           ("dequantize_int4_sign_extension",), "np.repeat(scales, group_size, axis=0)"),
    Mutant("linear_int4_mean_scale", "4.7", Q,
           ((LIN4, "        y = np.sum(partial, axis=-2) * np.asarray(scale, dtype=dtype)"
                   ".mean(axis=0)"),),
           ("quantized_linear_int4",), "scale each group's partial"),
    # appended bugs (the default axis, stated errors)
    Mutant("int8_default_axis_per_channel", "4.7", Q, (), ("int8_default_axis_is_per_tensor",),
           "the default axis=None is per tensor",
           diagnosis="the default axis is per output channel", append=INT8_DEFAULT_AXIS),
    Mutant("int8_axis_wraps_around", "4.7", Q, (), ("quantization_refuses_bad_input",),
           "axis=2): expected ValueError", append=INT8_AXIS_WRAPS),
    Mutant("dequantize_int4_no_shape_check", "4.7", Q, (), ("quantization_refuses_bad_input",),
           "make 2 groups: expected ValueError", append=DEQ4_NO_CHECK),
    Mutant("linear_default_group_size_32", "4.7", Q, (), ("quantized_linear_int8",),
           "group_size", status="error", append=LINEAR_DEFAULT_GROUP),
]

GAPS: dict[str, str] = {}

DIAGNOSED = [
    ("int8_floor", "int8_per_channel_scales", "np.round", "truncation"),
    ("int4_floor", "int4_groups_run_down_columns", "floor (np.floor)", "two's complement"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# A bug in one function is not reported as a bug of another, correct one.
NOT_BLAMED = [
    ("int4_no_sign_extension", "int4_packing_by_hand", "two's complement"),
    ("int8_zero_channel_nan", "quantized_linear_int8", "scale"),
    ("int4_nibbles_swapped", "quantized_linear_int4", "unpack"),
]


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.7"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED))
