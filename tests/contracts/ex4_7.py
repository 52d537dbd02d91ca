"""Contract of 4.7 (int8 and int4 quantization): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "quantize_int8: result": ("int8_per_tensor_by_hand", "int8_per_channel_scales",
                              "int8_zero_channel_is_not_nan"),
    "quantize_int8: default axis": ("int8_default_axis_is_per_tensor",),
    "quantize_int8: option axis": ("int8_per_channel_scales",),
    "quantize_int8: raises ValueError": ("quantization_refuses_bad_input",),
    "quantize_int8: raises TypeError": ("quantization_refuses_bad_input",),
    "quantize_int8: dtype": ("int8_per_tensor_by_hand",),
    "quantize_int8: inputs unchanged": ("int8_per_tensor_by_hand",),
    "dequantize_int8: result": ("dequantize_int8_and_error_bound",),
    "dequantize_int8: dtype": ("dequantize_int8_and_error_bound",),
    "dequantize_int8: inputs unchanged": ("dequantize_int8_and_error_bound",),
    "quantize_int4: result": ("int4_packing_by_hand", "int4_groups_run_down_columns"),
    "quantize_int4: raises ValueError": ("int4_groups_run_down_columns",),
    "quantize_int4: dtype": ("int4_packing_by_hand",),
    "quantize_int4: inputs unchanged": ("int4_packing_by_hand",),
    "dequantize_int4: result": ("dequantize_int4_sign_extension", "int4_roundtrip_error_bound"),
    "dequantize_int4: raises ValueError": ("quantization_refuses_bad_input",),
    "dequantize_int4: dtype": ("dequantize_int4_sign_extension",),
    "dequantize_int4: inputs unchanged": ("dequantize_int4_sign_extension",),
    "quantized_linear: result": ("quantized_linear_int8", "quantized_linear_int4"),
    "quantized_linear: default bias": ("quantized_linear_int8",),
    "quantized_linear: option bias": ("quantized_linear_int8", "quantized_linear_int4"),
    "quantized_linear: default group_size": ("quantized_linear_int8",),
    "quantized_linear: option group_size": ("quantized_linear_int4",),
    "quantized_linear: raises ValueError": ("quantization_refuses_bad_input",),
    "quantized_linear: dtype": ("quantized_linear_int8",),
    "quantized_linear: inputs unchanged": ("quantized_linear_int8", "quantized_linear_int4"),
}
