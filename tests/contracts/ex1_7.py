"""Contract of 1.7 (multi-head attention): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "multi_head_attention: result": ("mha_values", "mha_causal_invariance"),
    # Its cross case is called without `mask`; the float32 call too.
    "multi_head_attention: default mask": ("mha_values", "mha_float32_and_inputs"),
    "multi_head_attention: option mask": ("mha_values", "mha_causal_invariance"),
    "multi_head_attention: raises ValueError": ("mha_rejects_bad_inputs",),
    "multi_head_attention: dtype": ("mha_float32_and_inputs",),
    "multi_head_attention: inputs unchanged": ("mha_values", "mha_float32_and_inputs"),
}
