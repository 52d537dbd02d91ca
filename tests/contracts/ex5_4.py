"""Contract of 5.4 (speculative decoding): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "speculative_accept: result": ("accept_keeps_every_draft_when_q_equals_p",
                                   "accept_rejects_tokens_the_target_never_picks",
                                   "accept_follows_the_rule_draw_by_draw"),
    "speculative_accept: raises ValueError": ("speculative_refuses_bad_input",),
    # p, q and draft_tokens are handed over read-only (expect.call_pure) in every case
    "speculative_accept: inputs unchanged": ("accept_follows_the_rule_draw_by_draw",),
    "speculative_generate: result": ("greedy_equals_the_target_alone",
                                     "sampling_replays_the_rounds",
                                     "tokens_follow_the_target",
                                     "speculative_generate_uses_the_caches"),
    # the default temperature 1.0: called without it, the tokens follow softmax(logits)
    "speculative_generate: default temperature": ("tokens_follow_the_target",),
    "speculative_generate: option temperature": ("greedy_equals_the_target_alone",
                                                 "sampling_replays_the_rounds"),
    "speculative_generate: raises TypeError": ("speculative_refuses_bad_input",),
    "speculative_generate: raises ValueError": ("speculative_refuses_bad_input",),
    "speculative_generate: dtype": ("float32_models_decode",),
    "speculative_generate: inputs unchanged": ("greedy_equals_the_target_alone",
                                               "sampling_replays_the_rounds"),
}
