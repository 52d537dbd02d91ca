"""Contract of 3.11 (GPT-2): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

# The cached forward is Module 4's (4.5): its checks run GPT.forward(idx, kv_cache=cache),
# whose block_forward calls get the cache's attention.
KV = ("4.5::cached_prefill_matches_full_forward",
      "4.5::decode_one_token_per_step_matches_full_forward")

CONTRACT = {
    "GPT.forward: result": ("gpt_forward_values",),
    "GPT.forward: default kv_cache": ("gpt_forward_values",),
    "GPT.forward: option kv_cache": KV,
    "GPT.forward: raises TypeError": ("gpt_raises",),
    "GPT.forward: raises ValueError": ("gpt_raises",),
    "GPT.forward: dtype": ("gpt_float32",),
    "GPT.block_forward: result": ("gpt_forward_values", "gpt_block_attention"),
    "GPT.block_forward: default attention": ("gpt_block_attention",),
    "GPT.block_forward: option attention": ("gpt_block_attention", *KV),
    "GPT.loss: result": ("gpt_loss_and_backward",),
    "GPT.loss: raises ValueError": ("gpt_raises",),
    "GPT.loss: raises TypeError": ("gpt_raises",),
    "GPT.loss: dtype": ("gpt_float32",),
    "GPT.backward: result": ("gpt_loss_and_backward", "gpt_finite_differences"),
    "GPT.backward: default dlogits": ("gpt_loss_and_backward",),
    "GPT.backward: option dlogits": ("gpt_backward_given_dlogits",),
    "GPT.backward: raises RuntimeError": ("gpt_raises",),
    "GPT.backward: raises ValueError": ("gpt_raises",),
    "GPT.backward: upstream gradient": ("gpt_backward_given_dlogits",),
    "GPT.backward: dtype": ("gpt_float32",),
    "GPT._block_backward: result": ("gpt_loss_and_backward", "gpt_finite_differences"),
    "GPT._block_backward: upstream gradient": ("gpt_backward_given_dlogits",),
}
