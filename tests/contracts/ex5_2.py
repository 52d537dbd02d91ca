"""Contract of 5.2 (LoRA: low-rank adaptation): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "lora_init: result": ("lora_init_matches_peft",),
    "lora_init: default dtype": ("lora_init_matches_peft",),
    "lora_init: option dtype": ("lora_init_matches_peft",),
    "lora_init: raises ValueError": ("lora_refuses_bad_input",),
    "lora_init: dtype": ("lora_init_matches_peft",),
    "lora_init: inputs unchanged": NA("its inputs are three sizes and a generator, which it "
                                      "advances by design: no array to modify"),
    "lora_linear: result": ("lora_linear_values", "lora_linear_keeps_the_update_apart"),
    "lora_linear: default b": ("lora_linear_values",),
    "lora_linear: option b": ("lora_linear_values",),
    "lora_linear: raises ValueError": ("lora_refuses_bad_input",),
    "lora_linear: dtype": ("lora_linear_values",),
    "lora_linear: inputs unchanged": ("lora_linear_values",),
    "lora_linear_backward: result": ("lora_linear_backward_gradients",),
    "lora_linear_backward: upstream gradient": ("lora_linear_backward_gradients",),
    "lora_linear_backward: dtype": ("lora_linear_backward_gradients",),
    "lora_linear_backward: inputs unchanged": ("lora_linear_backward_gradients",),
    "merge_lora: result": ("merge_lora_folds_the_update",),
    "merge_lora: raises ValueError": ("lora_refuses_bad_input",),
    "merge_lora: dtype": ("merge_lora_folds_the_update",),
    "merge_lora: inputs unchanged": ("merge_lora_folds_the_update",),
}
