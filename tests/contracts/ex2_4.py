"""Contract of 2.4 (RoPE, interleaved layout): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "apply_rope_interleaved: result": ("interleaved_values", "interleaved_properties"),
    "apply_rope_interleaved: raises ValueError": ("interleaved_bad_shapes",),
    "apply_rope_interleaved: dtype": ("interleaved_float32",),
    "apply_rope_interleaved: inputs unchanged": ("interleaved_values", "interleaved_float32"),
}
