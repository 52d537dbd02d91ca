"""Mutation tests of 4.5 (The KV cache and cached generation): every check of the exercise
fails on a plausible student bug, and its message names the bug.  The harness and its
conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/

KV = "kv_cache.py"

ALLOC = ("        self.k = np.zeros(shape, dtype=self.dtype)  # allocated once, written in place\n"
         "        self.v = np.zeros(shape, dtype=self.dtype)\n")
WRITE = ("        self.k[layer, :, :, start:end] = k_new  # in place: no new buffer, no "
         "concatenation\n"
         "        self.v[layer, :, :, start:end] = v_new\n")
RETURN = ("        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]  # views, "
          "(B, H_kv, end, D)\n")
UPDATE_OVERFLOW = ("        if end > self.max_len:\n"
                   '            raise ValueError(f"KVCache.update: cache overflow: {start} '
                   'positions filled + "\n'
                   '                             f"{end - start} new > max_len = '
                   '{self.max_len}")\n')
ADVANCE_OVERFLOW = ("        if self.length + n > self.max_len:\n"
                    '            raise ValueError(f"KVCache.advance: cache overflow: '
                    '{self.length} + {n} > max_len "\n'
                    '                             f"= {self.max_len}")\n')
POSITIONS = ('    x = (p["wte.weight"][idx] + p["wpe.weight"][L:L + T]).reshape(rows)'
             "  # positions L..L+T-1\n")
MASK = ("    mask = None if T == 1 else causal_mask(T, L + T)"
        "  # (T, L+T): query i sees keys j <= L+i\n")
ADVANCE = "    kv_cache.advance(T)  # once per forward: every layer wrote the same T positions\n"
LAST_BLOCK = ("        x = model.block_forward(x, i, B, T, mask, cached_attention(kv_cache, i))"
              "[0]\n")
FULL = "            logits = model.forward(ids[:, :t])  # (B, t, V): everything, every step\n"
PICK = "            ids[:, t] = greedy(last)\n"
RESULT = "    return ids\n    ### END SOLUTION\n"
ATTEND = ("            return scaled_dot_product_attention(q, keys, values, mask)  # 1.4's, any "
          "mask\n")
SCORES = ("        scores = (q * q.shape[-1] ** -0.5) @ np.swapaxes(keys, -1, -2)"
          "  # (B, H, T, L+T)\n")
NORMALISE = "        weights /= weights.sum(axis=-1, keepdims=True)\n"
WEIGHTED = '        return weights @ values, {"weights": weights}  # (B, H, T, D)\n'

LAST_ONLY = ("    if last_only and T > 1:  # the next token's scores only: the head is 1/3 "
             "of a prefill\n")
LAST_ROW = "        x, T = x.reshape(B, T, C)[:, -1].reshape((C,) if B == 1 else (B, C)), 1\n"
OPTIONS = "generate_passes_the_sampling_options"
FLOAT32 = "cached_forward_keeps_float32"
BY_DEFAULT = "generate_uses_the_cache_by_default"
BAD_ARGS = "generate_and_cache_reject_bad_arguments"

MUTANTS = [
    Mutant("written_at_the_start", "4.5", KV,
           ((WRITE, "        self.k[layer, :, :, :end - start] = k_new\n"
                    "        self.v[layer, :, :, :end - start] = v_new\n"),),
           ("kv_cache_update_writes_in_place", "decode_one_token_per_step_matches_full_forward",
            "chunked_prefill_offsets_the_causal_mask"),
           "The new position goes at index length"),
    Mutant("lists_and_concatenate", "4.5", KV,
           ((ALLOC, "        self.k = [np.zeros((self.batch_size, self.n_kv_heads, 0, "
                    "self.head_dim), self.dtype)] * self.n_layer\n"
                    "        self.v = list(self.k)\n"),
            (WRITE, "        self.k[layer] = np.concatenate([self.k[layer], k_new], axis=2)\n"
                    "        self.v[layer] = np.concatenate([self.v[layer], v_new], axis=2)\n"),
            (RETURN, "        return self.k[layer], self.v[layer]\n")),
           ("kv_cache_update_writes_in_place", "cached_prefill_matches_full_forward",
            "decode_one_token_per_step_matches_full_forward"),
           "preallocated in __init__"),
    Mutant("returns_concatenated_copies", "4.5", KV,
           ((RETURN, "        return (np.concatenate([self.k[layer, :, :, :start], k_new], "
                     "axis=2),\n"
                     "                np.concatenate([self.v[layer, :, :, :start], v_new], "
                     "axis=2))\n"),),
           ("decode_step_does_not_copy_the_cache",), "were copied"),
    Mutant("buffers_reallocated_per_step", "4.5", KV,
           ((WRITE, "        self.k = self.k.copy()\n        self.v = self.v.copy()\n" + WRITE),),
           ("decode_step_does_not_copy_the_cache",), "were copied"),
    Mutant("update_advances_too", "4.5", KV,
           ((RETURN, "        self.length = end\n" + RETURN),),
           ("kv_cache_update_writes_in_place",), "update must not move it", status="failed"),
    Mutant("advance_per_layer", "4.5", KV,
           ((ADVANCE, ""), (LAST_BLOCK, LAST_BLOCK + "        kv_cache.advance(T)\n")),
           ("decode_one_token_per_step_matches_full_forward",
            "chunked_prefill_offsets_the_causal_mask", "cached_prefill_matches_full_forward"),
           "call advance(T) once per forward"),
    Mutant("last_only_ignored", "4.5", KV, ((LAST_ONLY, "    if False:\n"),),
           ("cached_prefill_matches_full_forward",), "returns the last new position's only"),
    Mutant("last_only_keeps_the_first", "4.5", KV,
           ((LAST_ROW, LAST_ROW.replace("[:, -1]", "[:, 0]")),),
           ("cached_prefill_matches_full_forward",), "the last new position only, (B, 1, V)"),
    Mutant("never_advanced", "4.5", KV, ((ADVANCE, ""),),
           ("decode_one_token_per_step_matches_full_forward",
            "cached_prefill_matches_full_forward"), "it did not move"),
    Mutant("positions_not_offset", "4.5", KV,
           ((POSITIONS, '    x = (p["wte.weight"][idx] + p["wpe.weight"][:T]).reshape(rows)\n'),),
           ("decode_one_token_per_step_matches_full_forward",
            "chunked_prefill_offsets_the_causal_mask"), "add wpe.weight[L:L+T]",
           diagnosis="the new tokens got the position embeddings"),
    Mutant("mask_top_left", "4.5", KV,
           ((MASK, "    mask = np.tril(np.ones((T, L + T), dtype=bool))\n"),),
           ("chunked_prefill_offsets_the_causal_mask",
            "decode_one_token_per_step_matches_full_forward"), "aligned top-left",
           diagnosis="the causal mask is aligned top-left"),
    Mutant("mask_top_left_prefill_only", "4.5", KV,
           ((MASK, "    mask = None if T == 1 else np.tril(np.ones((T, L + T), dtype=bool))\n"),),
           ("chunked_prefill_offsets_the_causal_mask",), "query i sees keys j <= L + i",
           diagnosis="the causal mask is aligned top-left"),
    Mutant("no_mask_at_prefill", "4.5", KV, ((MASK, "    mask = None\n"),),
           ("cached_prefill_matches_full_forward", "chunked_prefill_offsets_the_causal_mask",
            "decode_one_token_per_step_matches_full_forward"), "a leak of the future",
           diagnosis="a leak of the future"),
    Mutant("cached_attention_without_the_past", "4.5", KV,
           ((ATTEND, ATTEND.replace("keys, values", "k, v")),
            (SCORES, SCORES.replace("swapaxes(keys", "swapaxes(k")),  # and in the one-query
            (WEIGHTED, WEIGHTED.replace("@ values", "@ v"))),  # path, decoding's
           # (the chunked prefill raises in the student's code: a mask of L+T keys for T)
           ("decode_one_token_per_step_matches_full_forward",
            "generate_greedy_with_and_without_cache", "cached_attention_attends_to_the_past"),
           "without the cached positions",
           diagnosis="the new queries attend to the new keys/values alone"),
    Mutant("cached_path_unscaled", "4.5", KV,
           ((SCORES, SCORES.replace("(q * q.shape[-1] ** -0.5)", "q")),),
           ("decode_one_token_per_step_matches_full_forward",), "positions [0, 3)"),
    Mutant("cached_path_unnormalised", "4.5", KV,
           ((NORMALISE, ""),),
           ("decode_one_token_per_step_matches_full_forward",), "positions [0, 3)"),
    Mutant("prompt_dropped", "4.5", KV, ((RESULT, "    return ids[:, T0:]\n    ### END "
                                                  "SOLUTION\n"),),
           ("generate_greedy_with_and_without_cache",), "starts with the prompt"),
    Mutant("greedy_from_the_first_position", "4.5", KV,
           ((PICK, "            ids[:, t] = greedy(logits[:, 0])\n"),),
           ("generate_greedy_with_and_without_cache",), "argmax of the LAST position"),
    Mutant("no_cache_path_without_context", "4.5", KV,
           ((FULL, "            logits = model.forward(ids[:, t - 1:t])\n"),),
           ("generate_greedy_with_and_without_cache",), "use_cache=False"),
    Mutant("no_cache_path_drops_the_last_token", "4.5", KV,
           ((FULL, "            logits = model.forward(ids[:, :max(t - 1, 1)])\n"),),
           ("generate_greedy_with_and_without_cache",), "whole sequence so far"),
    Mutant("advance_without_overflow_check", "4.5", KV, ((ADVANCE_OVERFLOW, ""),),
           ("kv_cache_overflow_is_detected",), "advance(2)"),
    Mutant("update_without_overflow_check", "4.5", KV, ((UPDATE_OVERFLOW, ""),),
           ("kv_cache_overflow_is_detected",), "overflow"),
    # options lost on the way to the sampler, dtype, defaults, stated errors
    Mutant("generate_drops_top_k", "4.5", KV, (), (OPTIONS,), "top_k=2",
           diagnosis="generate does not pass top_k on to sample_next_token", append="""
_sample_next_token = sample_next_token
def sample_next_token(logits, rng, temperature=1.0, top_k=None, top_p=None):
    return _sample_next_token(logits, rng, temperature, None, top_p)
"""),
    Mutant("generate_drops_top_p", "4.5", KV, (), (OPTIONS,), "top_p=0.3",
           diagnosis="generate does not pass top_p on to sample_next_token", append="""
_sample_next_token = sample_next_token
def sample_next_token(logits, rng, temperature=1.0, top_k=None, top_p=None):
    return _sample_next_token(logits, rng, temperature, top_k, None)
"""),
    Mutant("generate_samples_at_temperature_1", "4.5", KV, (), (OPTIONS,),
           "does not pass temperature",
           diagnosis="generate does not pass temperature on to sample_next_token", append="""
_sample_next_token = sample_next_token
def sample_next_token(logits, rng, temperature=1.0, top_k=None, top_p=None):
    return _sample_next_token(logits, rng, 1.0, top_k, top_p)
"""),
    Mutant("float32_cached_forward_returns_float64", "4.5", KV, (), (FLOAT32,),
           "expected float32", append="""
_forward_with_cache = forward_with_cache
def forward_with_cache(model, idx, kv_cache, last_only=False):
    return _forward_with_cache(model, idx, kv_cache, last_only).astype(np.float64)
"""),
    Mutant("generate_without_cache_by_default", "4.5", KV, (), (BY_DEFAULT,),
           "use_cache=True is the default", append="""
_generate = generate
def generate(model, prompt, max_new_tokens, *, temperature=0.0, top_k=None, top_p=None,
             rng=None, use_cache=False):
    return _generate(model, prompt, max_new_tokens, temperature=temperature, top_k=top_k,
                     top_p=top_p, rng=rng, use_cache=use_cache)
"""),
    Mutant("update_wraps_the_layer_index", "4.5", KV, (), (BAD_ARGS,), "update(layer=2)",
           append="""
_update = KVCache.update
def _update_any_layer(self, layer, k_new, v_new):
    return _update(self, layer % self.n_layer, k_new, v_new)
KVCache.update = _update_any_layer
"""),
]

GAPS: dict[str, str] = {}

DIAGNOSED = [
    ("written_at_the_start", "decode_one_token_per_step_matches_full_forward",
     "should hold every layer's keys of position 3", ""),
    ("positions_not_offset", "chunked_prefill_offsets_the_causal_mask", "wpe.weight[L:L+T]",
     "aligned top-left"),
    ("mask_top_left", "decode_one_token_per_step_matches_full_forward", "aligned top-left",
     "wpe.weight[L:L+T]"),
    ("no_cache_path_without_context", "generate_greedy_with_and_without_cache",
     "ids[:, :t]", ""),
]

DIAGNOSED += [
    ("cached_attention_without_the_past", "decode_one_token_per_step_matches_full_forward",
     "attend", "update(layer, k_new, v_new) writes"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# A wrong attention of the cached forward (the reference's own path, for a causal mask or
# none) changes the keys of every later layer: the message says layer 0's keys are right and
# points at the forward, not at update.
NOT_BLAMED = [(mutant, "decode_one_token_per_step_matches_full_forward",
               "update(layer, k_new, v_new) writes")
              for mutant in ("cached_path_unscaled", "cached_path_unnormalised")]
BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.5"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED,
                                blame_gaps=BLAME_GAPS))
