"""Contract of 3.10 (AdamW, clipping, schedules): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "AdamW.step: result": ("adamw_steps", "adamw_tiny_gradients"),
    "AdamW.step: default lr": ("adamw_steps",),  # steps 1 and 2 use self.lr
    "AdamW.step: option lr": ("adamw_steps",),  # step 3 passes lr=
    "AdamW.step: raises ValueError": ("optim_raises",),
    "AdamW.step: raises TypeError": ("optim_raises",),
    "clip_grad_norm: result": ("clip_grad_norm_values",),
    "clip_grad_norm: raises ValueError": ("optim_raises",),
    "clip_grad_norm: inputs unchanged": NA("it scales grads in place by contract, as "
                                           "torch.nn.utils.clip_grad_norm_ (checked in "
                                           "clip_grad_norm_values)"),
    "noam_schedule: result": ("schedules",),
    "noam_schedule: raises ValueError": ("optim_raises",),
    "noam_schedule: inputs unchanged": NA("its arguments are Python numbers, no arrays"),
    "cosine_schedule: result": ("schedules",),
    "cosine_schedule: raises ValueError": ("optim_raises",),
    "cosine_schedule: inputs unchanged": NA("its arguments are Python numbers, no arrays"),
}
