"""Contract of 1.6 (split and merge heads): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "split_heads: result": ("split_heads_layout",),
    "split_heads: raises ValueError": ("heads_reject_bad_shapes",),
    "split_heads: dtype": ("split_heads_layout",),
    "split_heads: inputs unchanged": ("split_heads_layout",),  # call_pure
    "merge_heads: result": ("merge_heads_inverse",),
    "merge_heads: raises ValueError": ("heads_reject_bad_shapes",),
    "merge_heads: dtype": ("merge_heads_inverse",),
    "merge_heads: inputs unchanged": ("merge_heads_inverse",),  # call_pure
}
