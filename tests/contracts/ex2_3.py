"""Contract of 2.3 (RoPE, half-split layout): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "rope_cos_sin: result": ("rope_tables", "rope_long_positions"),
    # the "arange" case is called without base (a probe passes 10000 to confirm a diagnosis)
    "rope_cos_sin: default base": ("rope_tables",),
    "rope_cos_sin: option base": ("rope_tables", "rope_long_positions"),
    # every call of 2.3's checks leaves scaling out and wants the unscaled tables
    "rope_cos_sin: default scaling": ("rope_tables",),
    "rope_cos_sin: option scaling": ("2.6::linear_interpolation", "2.6::ntk_base_scaling"),
    "rope_cos_sin: raises ValueError": ("rope_bad_shapes",),
    # float64 positions, which the float64 conversion does not copy
    "rope_cos_sin: inputs unchanged": ("rope_long_positions",),
    "apply_rope: result": ("apply_rope_values", "rope_relative_property"),
    "apply_rope: raises ValueError": ("rope_bad_shapes",),
    "apply_rope: dtype": ("apply_rope_float32",),
    "apply_rope: inputs unchanged": ("apply_rope_values", "apply_rope_float32"),
    "apply_rope_backward: result": ("apply_rope_backward_is_inverse",),
    "apply_rope_backward: raises ValueError": ("rope_bad_shapes",),
    # random dout, and a probe that doubles it
    "apply_rope_backward: upstream gradient": ("apply_rope_backward_is_inverse",),
    "apply_rope_backward: dtype": ("apply_rope_float32",),
    "apply_rope_backward: inputs unchanged": ("apply_rope_backward_is_inverse",
                                              "apply_rope_float32"),
}
