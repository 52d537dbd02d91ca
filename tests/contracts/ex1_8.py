"""Contract of 1.8 (multi-head attention backward): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

_GRADIENTS = ("mha_backward_dx_q", "mha_backward_dx_kv", "mha_backward_dparams")

CONTRACT = {
    "multi_head_attention_backward: result": _GRADIENTS + ("mha_backward_finite_differences",
                                                           "mha_backward_self_attention"),
    # dout is random normal (the slip 'dout ignored' is named).
    "multi_head_attention_backward: upstream gradient": _GRADIENTS,
    "multi_head_attention_backward: dtype": ("mha_backward_float32",),
    # expect.call_pure on (dout, cache): the cache holds the caller's inputs and params.
    "multi_head_attention_backward: inputs unchanged": _GRADIENTS,
}
