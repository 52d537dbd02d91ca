"""Contract of 4.12 (sequence log-probabilities, DPO): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "sequence_logprob: result": ("sequence_logprob_values", "sequence_logprob_large_logits_stable"),
    "sequence_logprob: raises ValueError": ("dpo_refuses_bad_input",),
    "sequence_logprob: dtype": ("sequence_logprob_large_logits_stable",),
    # the integer ids and the mask too (call_pure: the sandbox hands them over read-only)
    "sequence_logprob: inputs unchanged": ("sequence_logprob_values",),
    "dpo_loss: result": ("dpo_loss_values", "dpo_loss_large_margins_stable"),
    "dpo_loss: raises ValueError": ("dpo_refuses_bad_input",),
    "dpo_loss: dtype": ("dpo_keeps_float32",),
    "dpo_loss: inputs unchanged": ("dpo_loss_values",),
    "dpo_loss_backward: result": ("dpo_backward_d_policy_chosen",
                                  "dpo_backward_d_policy_rejected"),
    # dloss = 0.7 in both: a backward that ignores it is named
    "dpo_loss_backward: upstream gradient": ("dpo_backward_d_policy_chosen",
                                             "dpo_backward_d_policy_rejected"),
    "dpo_loss_backward: dtype": ("dpo_keeps_float32",),
    "dpo_loss_backward: inputs unchanged": ("dpo_backward_d_policy_chosen",),
}
