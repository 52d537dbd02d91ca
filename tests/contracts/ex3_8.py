"""Contract of 3.8 (cross-entropy): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "cross_entropy: result": ("cross_entropy_values", "cross_entropy_stable_and_all_ignored"),
    # the "ignored" case leaves ignore_index out: its -100 targets are the default's
    "cross_entropy: default ignore_index": ("cross_entropy_values",),
    "cross_entropy: option ignore_index": ("cross_entropy_ignore_index_option",),
    "cross_entropy: default label_smoothing": ("cross_entropy_values",),
    "cross_entropy: option label_smoothing": ("cross_entropy_values",
                                              "cross_entropy_ignore_index_option"),
    "cross_entropy: raises TypeError": ("cross_entropy_raises",),
    "cross_entropy: raises ValueError": ("cross_entropy_raises",),
    "cross_entropy: dtype": ("cross_entropy_backward_values",),
    "cross_entropy: inputs unchanged": ("cross_entropy_values",),
    "cross_entropy_backward: result": ("cross_entropy_backward_values",),
    "cross_entropy_backward: raises ValueError": ("cross_entropy_raises",),
    "cross_entropy_backward: upstream gradient": ("cross_entropy_backward_upstream",),
    "cross_entropy_backward: dtype": ("cross_entropy_backward_values",),
    "cross_entropy_backward: inputs unchanged": ("cross_entropy_backward_upstream",),
}
