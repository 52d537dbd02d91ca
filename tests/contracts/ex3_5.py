"""Contract of 3.5 (dropout): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "dropout: result": ("dropout_values",),
    "dropout: default train": ("dropout_values",),  # dropout(x, p, rng) drops
    "dropout: option train": ("dropout_values",),  # train=False: the identity, no draw
    "dropout: raises ValueError": ("dropout_errors",),
    "dropout: raises TypeError": ("dropout_errors",),
    "dropout: dtype": ("dropout_float32",),
    "dropout: inputs unchanged": ("dropout_values",),
    "dropout_backward: result": ("dropout_backward_values",),
    "dropout_backward: upstream gradient": ("dropout_backward_values",),
    "dropout_backward: dtype": ("dropout_float32",),
    "dropout_backward: inputs unchanged": ("dropout_backward_values",),
}
