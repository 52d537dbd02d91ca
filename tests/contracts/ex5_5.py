"""Contract of 5.5 (GRPO): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "group_advantages: result": ("group_advantages_values",
                                 "group_advantages_equal_rewards_give_zero"),
    "group_advantages: default eps": ("group_advantages_values",),
    "group_advantages: option eps": ("group_advantages_values",),
    "group_advantages: raises ValueError": ("grpo_refuses_bad_input",),
    "group_advantages: dtype": ("grpo_keeps_float32",),
    "group_advantages: inputs unchanged": ("group_advantages_values",),
    "grpo_loss: result": ("grpo_loss_hand_computed", "grpo_loss_token_normalization",
                          "grpo_loss_random_batches"),
    "grpo_loss: default clip_eps": ("grpo_loss_defaults_and_options",),
    "grpo_loss: option clip_eps": ("grpo_loss_defaults_and_options",),
    "grpo_loss: default beta": ("grpo_loss_defaults_and_options",),
    "grpo_loss: option beta": ("grpo_loss_defaults_and_options", "grpo_loss_random_batches"),
    "grpo_loss: default normalize": ("grpo_loss_defaults_and_options",),
    "grpo_loss: option normalize": ("grpo_loss_token_normalization",),
    "grpo_loss: raises ValueError": ("grpo_refuses_bad_input",),
    "grpo_loss: inputs unchanged": ("grpo_loss_hand_computed", "grpo_loss_random_batches"),
    "grpo_loss_backward: result": ("grpo_loss_backward_hand_case", "grpo_loss_backward_random"),
    # dloss = 0.7: a backward that ignores it is named
    "grpo_loss_backward: upstream gradient": ("grpo_loss_backward_hand_case",),
    "grpo_loss_backward: dtype": ("grpo_keeps_float32",),
    "grpo_loss_backward: inputs unchanged": ("grpo_loss_backward_hand_case",),
}
