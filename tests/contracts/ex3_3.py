"""Contract of 3.3 (ReLU, GELU, SiLU): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

VALUES, BACKWARD, F32 = "activation_values", "activation_backward_values", "activation_float32"

CONTRACT = {
    "relu: result": (VALUES,),
    "relu: dtype": (F32,),
    "relu: inputs unchanged": (VALUES,),
    "relu_backward: result": (BACKWARD,),
    "relu_backward: upstream gradient": (BACKWARD,),  # act.dout: random, not ones
    "relu_backward: dtype": (F32,),
    "relu_backward: inputs unchanged": (BACKWARD,),
    "gelu: result": (VALUES,),
    "gelu: default approximate": ("gelu_default_form",),
    "gelu: option approximate": (VALUES,),  # approximate="none", the exact form
    "gelu: raises ValueError": ("gelu_unknown_form",),
    "gelu: dtype": (F32,),
    "gelu: inputs unchanged": (VALUES,),
    "gelu_backward: result": (BACKWARD,),
    "gelu_backward: upstream gradient": (BACKWARD,),
    "gelu_backward: dtype": (F32,),
    "gelu_backward: inputs unchanged": (BACKWARD,),
    "silu: result": (VALUES,),
    "silu: dtype": (F32,),
    "silu: inputs unchanged": (VALUES,),
    "silu_backward: result": (BACKWARD,),
    "silu_backward: upstream gradient": (BACKWARD,),
    "silu_backward: dtype": (F32,),
    "silu_backward: inputs unchanged": (BACKWARD,),
}
