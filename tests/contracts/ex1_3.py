"""Contract of 1.3 (causal and padding masks): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "causal_mask: result": ("causal_mask_alignment",),
    "causal_mask: default t_k": ("causal_mask_alignment",),  # its square case has one argument
    "causal_mask: option t_k": ("causal_mask_alignment",),  # t_q < t_k, t_q = 1, t_q > t_k
    "causal_mask: raises ValueError": ("masks_reject_bad_sizes",),
    "causal_mask: inputs unchanged": NA("its arguments are two ints: nothing to modify"),
    "padding_mask: result": ("padding_mask_values",),
    "padding_mask: raises ValueError": ("masks_reject_bad_sizes",),
    # expect.call_pure on the integer lengths array itself (not a copy).
    "padding_mask: inputs unchanged": ("padding_mask_values",),
}
