"""Contract of 3.2 (LayerNorm and RMSNorm): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "layer_norm: result": ("layer_norm_values",),
    "layer_norm: default eps": ("layer_norm_default_eps",),
    "layer_norm: option eps": ("layer_norm_values",),  # eps = ln.eps, not 1e-5
    "layer_norm: raises ValueError": ("norm_errors",),
    "layer_norm: dtype": ("layer_norm_values",),
    "layer_norm: inputs unchanged": ("layer_norm_values",),
    "layer_norm_backward: result": ("layer_norm_backward_dx", "layer_norm_backward_dgamma",
                                    "layer_norm_backward_dbeta"),
    "layer_norm_backward: upstream gradient": ("layer_norm_backward_dx",
                                               "layer_norm_backward_dgamma",
                                               "layer_norm_backward_dbeta"),
    "layer_norm_backward: dtype": ("norm_backward_float32",),
    "layer_norm_backward: inputs unchanged": ("layer_norm_backward_dx",),
    "rms_norm: result": ("rms_norm_values",),
    "rms_norm: default eps": ("rms_norm_values",),
    "rms_norm: option eps": ("rms_norm_values",),
    "rms_norm: raises ValueError": ("norm_errors",),
    "rms_norm: dtype": ("rms_norm_values",),
    "rms_norm: inputs unchanged": ("rms_norm_values",),
    "rms_norm_backward: result": ("rms_norm_backward_dx", "rms_norm_backward_dgamma"),
    "rms_norm_backward: upstream gradient": ("rms_norm_backward_dx", "rms_norm_backward_dgamma"),
    "rms_norm_backward: dtype": ("norm_backward_float32",),
    "rms_norm_backward: inputs unchanged": ("rms_norm_backward_dx",),
}
