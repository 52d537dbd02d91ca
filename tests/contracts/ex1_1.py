"""Contract of 1.1 (stable softmax): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "softmax: result": ("softmax_values", "softmax_stable_and_masked"),
    "softmax: default axis": ("softmax_default_axis",),  # called without axis
    "softmax: option axis": ("softmax_values",),  # axis = -1, 0 and 1
    "softmax: dtype": ("softmax_invariants",),
    "softmax: inputs unchanged": ("softmax_values", "softmax_invariants"),  # call_pure
}
