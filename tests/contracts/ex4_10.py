"""Contract of 4.10 (Bradley-Terry reward-model loss): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "bradley_terry_loss: result": ("bradley_terry_loss_values",
                                   "bradley_terry_loss_large_rewards_stable"),
    "bradley_terry_loss: raises ValueError": ("bradley_terry_refuses_bad_input",),
    "bradley_terry_loss: raises TypeError": ("bradley_terry_refuses_bad_input",),
    "bradley_terry_loss: dtype": ("bradley_terry_keeps_float32",),
    "bradley_terry_loss: inputs unchanged": ("bradley_terry_loss_values",),
    "bradley_terry_loss_backward: result": ("bradley_terry_backward_dr_chosen",
                                            "bradley_terry_backward_dr_rejected"),
    # dloss = 0.7 in both: a backward that ignores it is named
    "bradley_terry_loss_backward: upstream gradient": ("bradley_terry_backward_dr_chosen",
                                                       "bradley_terry_backward_dr_rejected"),
    "bradley_terry_loss_backward: dtype": ("bradley_terry_keeps_float32",),
    "bradley_terry_loss_backward: inputs unchanged": ("bradley_terry_backward_dr_chosen",),
}
