"""Contract of 3.1 (linear layer): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "linear: result": ("linear_values", "linear_finite_differences"),
    "linear: default b": ("linear_values",),  # linear(x, W): no bias
    "linear: option b": ("linear_values",),
    "linear: raises ValueError": ("linear_shape_errors",),
    "linear: dtype": ("linear_values",),
    "linear: inputs unchanged": ("linear_values",),
    "linear_backward: result": ("linear_backward_dx", "linear_backward_dW",
                                "linear_backward_db"),
    "linear_backward: upstream gradient": ("linear_backward_dx", "linear_backward_dW",
                                           "linear_backward_db"),
    "linear_backward: dtype": ("linear_backward_float32",),
    "linear_backward: inputs unchanged": ("linear_backward_dx",),
}
