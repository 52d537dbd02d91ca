"""Contract of 3.7 (decoder layer): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "decoder_layer: result": ("decoder_values",),
    "decoder_layer: default self_mask": ("decoder_values", "decoder_causality"),
    "decoder_layer: option self_mask": ("decoder_values",),
    "decoder_layer: default memory_mask": ("decoder_defaults",),
    "decoder_layer: option memory_mask": ("decoder_values",),
    "decoder_layer: default norm_first": ("decoder_defaults",),
    "decoder_layer: option norm_first": ("decoder_values",),
    "decoder_layer: default dropout_p": ("decoder_defaults",),
    "decoder_layer: option dropout_p": ("decoder_dropout",),
    "decoder_layer: default rng": ("decoder_defaults", "decoder_raises"),
    "decoder_layer: option rng": ("decoder_dropout",),
    "decoder_layer: default train": ("decoder_defaults",),
    "decoder_layer: option train": ("decoder_dropout",),
    "decoder_layer: default activation": ("decoder_values", "decoder_defaults"),
    "decoder_layer: option activation": ("decoder_eps_and_activation",),
    "decoder_layer: default eps": ("decoder_values", "decoder_defaults"),
    "decoder_layer: option eps": ("decoder_eps_and_activation",),
    "decoder_layer: raises ValueError": ("decoder_raises",),
    "decoder_layer: raises TypeError": ("decoder_raises",),
    "decoder_layer: dtype": ("decoder_float32",),
    "decoder_layer: inputs unchanged": ("decoder_values",),
    "decoder_layer_backward: result": ("decoder_backward_values", "decoder_backward_dmemory",
                                       "decoder_backward_dx"),
    "decoder_layer_backward: upstream gradient": ("decoder_backward_upstream",
                                                  "decoder_backward_values",
                                                  "decoder_backward_dx"),
    "decoder_layer_backward: dtype": ("decoder_float32",),
    "decoder_layer_backward: inputs unchanged": ("decoder_backward_upstream",),
}
