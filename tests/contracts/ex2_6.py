"""Contract of 2.6 (RoPE context extension): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "rope_scaling: result": ("linear_interpolation", "ntk_base_scaling"),
    "rope_scaling: raises ValueError": ("scaling_bad_dicts",),
    # float64 positions (a float64 conversion does not copy them) and the scaling dict
    "rope_scaling: inputs unchanged": ("linear_interpolation", "ntk_base_scaling"),
}
