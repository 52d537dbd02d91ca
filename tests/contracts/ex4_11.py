"""Contract of 4.11 (GAE, PPO's clipped objective, KL penalty): clause -> its checks."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "gae: result": ("gae_hand_computed", "gae_respects_episode_ends", "gae_batched_and_limits"),
    "gae: default dones": ("gae_default_arguments",),
    "gae: option dones": ("gae_respects_episode_ends",),
    "gae: default last_value": ("gae_default_arguments",),
    "gae: option last_value": ("gae_hand_computed", "gae_batched_and_limits"),
    "gae: raises ValueError": ("ppo_refuses_bad_input",),
    "gae: dtype": ("gae_batched_and_limits",),
    "gae: inputs unchanged": ("gae_hand_computed",),
    "ppo_clip_loss: result": ("ppo_clip_loss_hand_computed", "ppo_clip_loss_gradient"),
    "ppo_clip_loss: default clip_eps": ("ppo_clip_loss_default_arguments",),
    "ppo_clip_loss: option clip_eps": ("ppo_clip_loss_other_clip_eps",),
    "ppo_clip_loss: default mask": ("ppo_clip_loss_default_arguments",),
    "ppo_clip_loss: option mask": ("ppo_clip_loss_mask",),
    "ppo_clip_loss: raises ValueError": ("ppo_refuses_bad_input",),
    "ppo_clip_loss: inputs unchanged": ("ppo_clip_loss_hand_computed",),
    "kl_penalty: result": ("kl_penalty_hand_computed", "kl_estimators_are_unbiased",
                           "kl_k3_accurate_near_r_1"),
    "kl_penalty: default kind": ("kl_penalty_default_is_k1",),
    "kl_penalty: option kind": ("kl_penalty_hand_computed",),
    "kl_penalty: raises ValueError": ("ppo_refuses_bad_input",),
    "kl_penalty: inputs unchanged": ("kl_penalty_hand_computed",),
}
