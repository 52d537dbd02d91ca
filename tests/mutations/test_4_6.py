"""Mutation tests of 4.6 (Grouped-query attention): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from llm_common import GQA
from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/

REPEAT = ("    expanded = np.broadcast_to(x[:, :, None], (B, H_kv, n_rep, T, D))\n"
          "    return expanded.reshape(B, H_kv * n_rep, T, D)  # head g * n_rep + r is kv head g\n")
SDPA = ("    out, _ = scaled_dot_product_attention(q, k, v, mask)"
        "  # Module 1: softmax(q k^T / sqrt(D)) v\n")
HEAD_DIM = '    head_dim = sizes["n_embd"] // sizes["n_head"]\n'
PER_TOKEN = ('    per_token = 2 * sizes["n_layer"] * sizes["n_kv_heads"] * head_dim'
             "  # K and V, every layer\n")
BYTES = "    return int(per_token * seq_len * batch * dtype_itemsize(dtype))\n"

GQA_DEFAULT_CAUSAL = """
_gqa = grouped_query_attention
_CAUSAL = object()

def grouped_query_attention(q, k, v, mask=_CAUSAL):
    if mask is _CAUSAL:  # "no mask given" taken for a decoder's causal mask
        t_q, t_k = q.shape[2], k.shape[2]
        mask = np.arange(t_k)[None, :] <= np.arange(t_q)[:, None] + (t_k - t_q)
    return _gqa(q, k, v, mask)
"""

KV_OBJECT_MHA = """
_kv_cache_bytes = kv_cache_bytes

def kv_cache_bytes(config, seq_len, batch, dtype):
    if not isinstance(config, dict):  # GPTConfig's three sizes only: n_kv_heads dropped
        config = {name: getattr(config, name) for name in ("n_layer", "n_head", "n_embd")}
    return _kv_cache_bytes(config, seq_len, batch, dtype)
"""

KV_SETDEFAULT = """
_kv_cache_bytes = kv_cache_bytes

def kv_cache_bytes(config, seq_len, batch, dtype):
    if isinstance(config, dict):
        config.setdefault("n_kv_heads", config["n_head"])  # writes into the caller's dict
    return _kv_cache_bytes(config, seq_len, batch, dtype)
"""

MUTANTS = [
    Mutant("repeat_kv_tiles", "4.6", GQA,
           ((REPEAT, "    return np.tile(x, (1, n_rep, 1, 1))\n"),),
           ("repeat_kv_repeats_each_head", "gqa_matches_attention_per_group"), "tiles the heads",
           diagnosis="the kv heads are tiled"),
    Mutant("gqa_unscaled", "4.6", GQA,
           ((SDPA, "    out, _ = scaled_dot_product_attention(q * np.sqrt(q.shape[-1]), k, v, "
                   "mask)\n"),),
           ("gqa_matches_attention_per_group", "gqa_applies_the_mask"), "were not scaled",
           diagnosis="the scores were not scaled"),
    Mutant("gqa_scaled_by_d", "4.6", GQA,
           ((SDPA, "    out, _ = scaled_dot_product_attention(q / np.sqrt(q.shape[-1]), k, v, "
                   "mask)\n"),),
           ("gqa_matches_attention_per_group",), "scaled by 1 / D",
           diagnosis="the scores were scaled by 1 / D"),
    Mutant("gqa_mask_ignored", "4.6", GQA,
           ((SDPA, "    out, _ = scaled_dot_product_attention(q, k, v)\n"),),
           ("gqa_applies_the_mask",), "the mask was ignored", diagnosis="the mask was ignored"),
    Mutant("gqa_mask_inverted", "4.6", GQA,
           ((SDPA, "    out, _ = scaled_dot_product_attention(q, k, v, None if mask is None "
                   "else ~mask)\n"),),
           ("gqa_applies_the_mask",), "True means *may attend*",
           diagnosis="the mask is inverted"),
    Mutant("kv_bytes_without_v", "4.6", GQA,
           ((PER_TOKEN, '    per_token = sizes["n_layer"] * sizes["n_kv_heads"] * head_dim\n'),),
           ("kv_cache_bytes_worked_numbers",), "the factor 2 is missing",
           diagnosis="the factor 2 is missing"),
    Mutant("kv_bytes_counts_query_heads", "4.6", GQA,
           ((PER_TOKEN, '    per_token = 2 * sizes["n_layer"] * sizes["n_head"] * head_dim\n'),),
           ("kv_cache_bytes_worked_numbers",), "full multi-head cache",
           diagnosis="n_head heads were cached"),
    Mutant("kv_bytes_head_dim_is_n_embd", "4.6", GQA,
           ((HEAD_DIM, '    head_dim = sizes["n_embd"]\n'),),
           ("kv_cache_bytes_worked_numbers",), "head_dim is n_embd / n_head",
           diagnosis="head_dim is n_embd / n_head"),
    Mutant("kv_bytes_fp16_hard_coded", "4.6", GQA,
           ((BYTES, "    return int(per_token * seq_len * batch * 2)\n"),),
           ("kv_cache_bytes_worked_numbers",), "the same size", diagnosis="the dtype is ignored"),
    Mutant("kv_bytes_counts_elements", "4.6", GQA,
           ((BYTES, "    return int(per_token * seq_len * batch)\n"),),
           ("kv_cache_bytes_worked_numbers",), "dtype_itemsize",
           diagnosis="the dtype is ignored"),
    Mutant("kv_bytes_without_batch", "4.6", GQA,
           ((BYTES, "    return int(per_token * seq_len * dtype_itemsize(dtype))\n"),),
           ("kv_cache_bytes_worked_numbers",), "the batch is missing",
           diagnosis="the batch is missing"),
    # stated errors, the default mask, object configs with GQA, inputs unchanged
    Mutant("repeat_kv_no_validation", "4.6", GQA, (), ("repeat_kv_refuses_bad_input",),
           "not 4-D: expected ValueError",
           append="def repeat_kv(x, n_rep):\n    return np.repeat(x, n_rep, axis=1)\n"),
    Mutant("gqa_default_mask_causal", "4.6", GQA, (), ("gqa_default_mask_is_none",),
           "is causal", diagnosis="the default of mask is a causal mask",
           append=GQA_DEFAULT_CAUSAL),
    Mutant("kv_bytes_object_ignores_n_kv_heads", "4.6", GQA, (),
           ("kv_cache_bytes_gqa_config_object",), "all n_head = 6 heads cached",
           diagnosis="the n_kv_heads of a config object is not read",
           append=KV_OBJECT_MHA),
    Mutant("kv_bytes_setdefault_in_config", "4.6", GQA, (), ("kv_cache_bytes_worked_numbers",),
           "changed its argument 1 in place", append=KV_SETDEFAULT),
]

GAPS: dict[str, str] = {}

DIAGNOSED = [
    # A wrong scale is named as such, not blamed on the head order.
    ("gqa_unscaled", "gqa_matches_attention_per_group", "1 / sqrt(D)", "np.tile"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.6"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS))
