"""Contract of 1.4 (scaled dot-product attention): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "scaled_dot_product_attention: result": ("attention_values", "attention_masks"),
    "scaled_dot_product_attention: default mask": ("attention_values",),
    "scaled_dot_product_attention: option mask": ("attention_masks",),
    "scaled_dot_product_attention: raises ValueError": Gap("no check passes misfit shapes"),
    "scaled_dot_product_attention: raises TypeError": Gap("no check passes a float mask"),
    "scaled_dot_product_attention: dtype": ("attention_batched_float32",),
    "scaled_dot_product_attention: inputs unchanged": ("attention_batched_float32",),
}
