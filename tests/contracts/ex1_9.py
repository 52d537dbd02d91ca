"""Contract of 1.9 (online-softmax attention): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "online_softmax_attention: result": ("online_equals_attention", "online_stable_and_masked"),
    # online_defaults calls it with q, k, v only; the other checks pass every argument.
    "online_softmax_attention: default mask": ("online_defaults",),
    "online_softmax_attention: option mask": ("online_equals_attention", "online_causal"),
    "online_softmax_attention: default block_size": ("online_defaults",),
    "online_softmax_attention: option block_size": ("online_equals_attention",),
    "online_softmax_attention: default causal": ("online_defaults",),
    "online_softmax_attention: option causal": ("online_causal",),
    "online_softmax_attention: raises ValueError": ("online_rejects_bad_inputs",),
    "online_softmax_attention: dtype": ("online_equals_attention",),
    "online_softmax_attention: inputs unchanged": ("online_equals_attention",),  # call_pure
}
