"""Contract of 3.6 (encoder layer): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "encoder_layer: result": ("encoder_values",),
    "encoder_layer: default mask": ("encoder_defaults",),
    "encoder_layer: option mask": ("encoder_values",),
    "encoder_layer: default norm_first": ("encoder_defaults",),
    "encoder_layer: option norm_first": ("encoder_values",),
    "encoder_layer: default dropout_p": ("encoder_defaults",),
    "encoder_layer: option dropout_p": ("encoder_dropout",),
    "encoder_layer: default rng": ("encoder_defaults", "encoder_raises"),
    "encoder_layer: option rng": ("encoder_dropout",),
    "encoder_layer: default train": ("encoder_defaults",),
    "encoder_layer: option train": ("encoder_dropout",),
    "encoder_layer: default activation": ("encoder_values", "encoder_defaults"),
    "encoder_layer: option activation": ("encoder_eps_and_activation",),
    "encoder_layer: default eps": ("encoder_values", "encoder_defaults"),
    "encoder_layer: option eps": ("encoder_eps_and_activation",),
    "encoder_layer: raises ValueError": ("encoder_raises",),
    "encoder_layer: raises TypeError": ("encoder_raises",),
    "encoder_layer: dtype": ("encoder_float32",),
    "encoder_layer: inputs unchanged": ("encoder_values",),
    "encoder_layer_backward: result": ("encoder_backward_values", "encoder_backward_dx",
                                       "encoder_finite_differences"),
    "encoder_layer_backward: upstream gradient": ("encoder_backward_upstream",
                                                  "encoder_backward_values",
                                                  "encoder_backward_dx"),
    "encoder_layer_backward: dtype": ("encoder_float32",),
    "encoder_layer_backward: inputs unchanged": ("encoder_backward_upstream",),
}
