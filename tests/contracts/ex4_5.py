"""Contract of 4.5 (KV cache, cached forward, generate): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

UPDATE = "kv_cache_update_writes_in_place"
OVERFLOW = "kv_cache_overflow_is_detected"
BAD_ARGS = "generate_and_cache_reject_bad_arguments"
OPTIONS = "generate_passes_the_sampling_options"
GREEDY = "generate_greedy_with_and_without_cache"
FLOAT32 = "cached_forward_keeps_float32"
SCHEDULES = ("cached_prefill_matches_full_forward",
             "decode_one_token_per_step_matches_full_forward",
             "chunked_prefill_offsets_the_causal_mask")

CONTRACT = {
    "KVCache.__init__: result": (UPDATE,),
    "KVCache.__init__: default dtype": (UPDATE,),  # KVCache(...) alone: float32 buffers
    "KVCache.__init__: option dtype": (UPDATE,),  # dtype=np.float64 buffers
    "KVCache.__init__: raises ValueError": (BAD_ARGS,),
    "KVCache.__init__: dtype": (UPDATE, FLOAT32),
    "KVCache.update: result": (UPDATE,),
    "KVCache.update: raises ValueError": (OVERFLOW, BAD_ARGS),
    "KVCache.advance: result": (UPDATE,),
    "KVCache.advance: raises ValueError": (OVERFLOW, BAD_ARGS),
    "generate: result": (GREEDY,),
    "generate: default temperature": (GREEDY,),  # no temperature: the greedy fixture tokens
    "generate: option temperature": (OPTIONS,),
    # temperature=0.3 without top_k/top_p must equal sample_next_token(..., None, None)
    "generate: default top_k": (OPTIONS,),
    "generate: option top_k": (OPTIONS,),
    "generate: default top_p": (OPTIONS,),
    "generate: option top_p": (OPTIONS,),
    "generate: default rng": (OPTIONS,),
    "generate: option rng": (OPTIONS,),
    "generate: default use_cache": ("generate_uses_the_cache_by_default",),
    "generate: option use_cache": (GREEDY,),
    "generate: raises TypeError": (BAD_ARGS,),
    "generate: raises ValueError": (BAD_ARGS,),
    "generate: inputs unchanged": (OPTIONS,),
    "forward_with_cache: result": SCHEDULES,
    "forward_with_cache: default last_only": SCHEDULES,  # no last_only: every position's
    "forward_with_cache: option last_only": ("cached_prefill_matches_full_forward",),
    "forward_with_cache: raises ValueError": (BAD_ARGS, OVERFLOW),
    "forward_with_cache: dtype": (FLOAT32,),
    "forward_with_cache: inputs unchanged": (FLOAT32,),
    # reached through forward_with_cache; a probe names the missing past (decoding check)
    "cached_attention: result": (*SCHEDULES[1:], "cached_attention_attends_to_the_past"),
    "cached_attention: inputs unchanged": ("cached_attention_attends_to_the_past",),
}
