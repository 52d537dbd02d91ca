"""Contract of 3.4 (GELU MLP and SwiGLU): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "feed_forward: result": ("feed_forward_values",),
    "feed_forward: default activation": ("feed_forward_values",),  # called without it: GELU
    "feed_forward: option activation": ("feed_forward_values",),  # relu, gelu_exact, silu
    "feed_forward: raises ValueError": ("feed_forward_errors",),
    "feed_forward: dtype": ("feed_forward_float32",),
    "feed_forward: inputs unchanged": ("feed_forward_values",),
    "feed_forward_backward: result": ("feed_forward_backward_values",
                                      "feed_forward_backward_dx"),
    "feed_forward_backward: upstream gradient": ("feed_forward_backward_values",
                                                 "feed_forward_backward_dx"),
    "feed_forward_backward: dtype": ("feed_forward_float32",),
    "feed_forward_backward: inputs unchanged": ("feed_forward_backward_dx",),
    "swiglu: result": ("swiglu_values",),
    "swiglu: raises ValueError": ("feed_forward_errors",),
    "swiglu: dtype": ("feed_forward_float32",),
    "swiglu: inputs unchanged": ("swiglu_values",),
    "swiglu_backward: result": ("swiglu_backward_values", "swiglu_backward_dx"),
    "swiglu_backward: upstream gradient": ("swiglu_backward_values", "swiglu_backward_dx"),
    "swiglu_backward: dtype": ("feed_forward_float32",),
    "swiglu_backward: inputs unchanged": ("swiglu_backward_dx",),
}
