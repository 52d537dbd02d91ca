"""Contract of 1.4 (scaled dot-product attention): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "scaled_dot_product_attention: result": ("attention_values", "attention_masks"),
    # attention_values calls it without `mask`; the float32 part too.
    "scaled_dot_product_attention: default mask": ("attention_values",
                                                   "attention_batched_float32"),
    "scaled_dot_product_attention: option mask": ("attention_masks",),
    "scaled_dot_product_attention: raises ValueError": ("attention_rejects_bad_inputs",),
    "scaled_dot_product_attention: raises TypeError": ("attention_rejects_bad_inputs",),
    "scaled_dot_product_attention: dtype": ("attention_batched_float32",),
    # expect.call_pure, the boolean mask included.
    "scaled_dot_product_attention: inputs unchanged": ("attention_values",
                                                       "attention_batched_float32"),
}
