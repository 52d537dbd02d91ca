"""Contract of 1.5 (attention backward): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

_GRADIENTS = ("attention_backward_dq", "attention_backward_dk", "attention_backward_dv")

CONTRACT = {
    "scaled_dot_product_attention_backward: result": _GRADIENTS
    + ("attention_backward_finite_differences", "attention_backward_masked_rows"),
    # dout is random normal (the slip 'dout ignored' is named).
    "scaled_dot_product_attention_backward: upstream gradient": _GRADIENTS,
    "scaled_dot_product_attention_backward: dtype": ("attention_backward_float32",),
    # expect.call_pure on (dout, cache): the cache holds the caller's q, k, v.
    "scaled_dot_product_attention_backward: inputs unchanged": _GRADIENTS,
}
