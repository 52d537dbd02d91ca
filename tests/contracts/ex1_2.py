"""Contract of 1.2 (softmax backward): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "softmax_backward: result": ("softmax_backward_values", "softmax_backward_properties"),
    "softmax_backward: default axis": ("softmax_backward_default_axis",),  # no axis passed
    "softmax_backward: option axis": ("softmax_backward_values",),  # axis = -1, 0 and 1
    # dout is random normal; a dx that ignores it is named.
    "softmax_backward: upstream gradient": ("softmax_backward_values",),
    "softmax_backward: dtype": ("softmax_backward_properties",),
    "softmax_backward: inputs unchanged": ("softmax_backward_values",
                                           "softmax_backward_default_axis"),  # call_pure
}
