"""Mutation tests of the checks of 4.6 (grouped-query attention, KV cache size) and 4.8
(parameters, FLOPs, scaling laws): every check fails on a plausible student bug, and its
message names the bug. The harness is `mutation.py`; see `test_checks_catch_bugs_module2.py`
for the conventions (`GAPS`, `DIAGNOSED`, ...).
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/
EXERCISES = ["4.6", "4.8"]

GQA, SCALING = "gqa.py", "scaling.py"
REPEAT = ("    expanded = np.broadcast_to(x[:, :, None], (B, H_kv, n_rep, T, D))\n"
          "    return expanded.reshape(B, H_kv * n_rep, T, D)  # head g * n_rep + r is kv head g\n")
SDPA = ("    out, _ = scaled_dot_product_attention(q, k, v, mask)"
        "  # Module 1: softmax(q k^T / sqrt(D)) v\n")
HEAD_DIM = '    head_dim = sizes["n_embd"] // sizes["n_head"]\n'
PER_TOKEN = ('    per_token = 2 * sizes["n_layer"] * sizes["n_kv_heads"] * head_dim'
             "  # K and V, every layer\n")
BYTES = "    return int(per_token * seq_len * batch * dtype_itemsize(dtype))\n"

BLOCK = ("    block = (2 * C                    # ln_1: weight and bias\n"
         "             + C * 3 * C + 3 * C      # attn.c_attn: the fused q|k|v projection\n"
         "             + C * C + C              # attn.c_proj\n"
         "             + 2 * C                  # ln_2\n"
         "             + C * 4 * C + 4 * C      # mlp.c_fc\n"
         "             + 4 * C * C + C)         # mlp.c_proj      -> 12 C^2 + 13 C per block\n"
         "    n = L * block + 2 * C  # + ln_f\n")
EMBEDDINGS = "        n += V * C + T * C  # wte (the head reuses it) and wpe\n"
FORWARD = "    forward = 2 * N + 2 * L * int(seq_len) * C  # matmuls with the weights + attention\n"
TRAIN = ("    return 3 * forward"
         "  # backward = 2 x forward (gradients of the inputs and of the weights)\n")
NON_EMBEDDING = "    N = count_parameters(config, include_embeddings=False)\n"
CHINCHILLA = ("    n_params = math.sqrt(compute / (6 * tokens_per_param))"
              "  # C = 6 N (r N) = 6 r N^2\n"
              "    return n_params, tokens_per_param * n_params\n")
LOGS = "    lx, ly = np.log(x), np.log(y)\n"
FIT = "    return float(np.exp(log_a)), float(b)\n"

MUTANTS = [
    # 4.6 grouped-query attention
    Mutant("repeat_kv_tiles", "4.6", GQA,
           ((REPEAT, "    return np.tile(x, (1, n_rep, 1, 1))\n"),),
           ("repeat_kv_repeats_each_head", "gqa_matches_attention_per_group"), "tiles the heads"),
    Mutant("gqa_unscaled", "4.6", GQA,
           ((SDPA, "    out, _ = scaled_dot_product_attention(q * np.sqrt(q.shape[-1]), k, v, "
                   "mask)\n"),),
           ("gqa_matches_attention_per_group", "gqa_applies_the_mask"), "were not scaled"),
    Mutant("gqa_scaled_by_d", "4.6", GQA,
           ((SDPA, "    out, _ = scaled_dot_product_attention(q / np.sqrt(q.shape[-1]), k, v, "
                   "mask)\n"),),
           ("gqa_matches_attention_per_group",), "scaled by 1 / D"),
    Mutant("gqa_mask_ignored", "4.6", GQA,
           ((SDPA, "    out, _ = scaled_dot_product_attention(q, k, v)\n"),),
           ("gqa_applies_the_mask",), "the mask was ignored"),
    Mutant("gqa_mask_inverted", "4.6", GQA,
           ((SDPA, "    out, _ = scaled_dot_product_attention(q, k, v, None if mask is None "
                   "else ~mask)\n"),),
           ("gqa_applies_the_mask",), "True means *may attend*"),
    Mutant("kv_bytes_without_v", "4.6", GQA,
           ((PER_TOKEN, '    per_token = sizes["n_layer"] * sizes["n_kv_heads"] * head_dim\n'),),
           ("kv_cache_bytes_worked_numbers",), "the factor 2 is missing"),
    Mutant("kv_bytes_counts_query_heads", "4.6", GQA,
           ((PER_TOKEN, '    per_token = 2 * sizes["n_layer"] * sizes["n_head"] * head_dim\n'),),
           ("kv_cache_bytes_worked_numbers",), "full multi-head cache"),
    Mutant("kv_bytes_head_dim_is_n_embd", "4.6", GQA,
           ((HEAD_DIM, '    head_dim = sizes["n_embd"]\n'),),
           ("kv_cache_bytes_worked_numbers",), "head_dim is n_embd / n_head"),
    Mutant("kv_bytes_fp16_hard_coded", "4.6", GQA,
           ((BYTES, "    return int(per_token * seq_len * batch * 2)\n"),),
           ("kv_cache_bytes_worked_numbers",), "the same size"),
    Mutant("kv_bytes_counts_elements", "4.6", GQA,
           ((BYTES, "    return int(per_token * seq_len * batch)\n"),),
           ("kv_cache_bytes_worked_numbers",), "dtype_itemsize"),
    Mutant("kv_bytes_without_batch", "4.6", GQA,
           ((BYTES, "    return int(per_token * seq_len * dtype_itemsize(dtype))\n"),),
           ("kv_cache_bytes_worked_numbers",), "the batch is missing"),
    # 4.8 parameters, FLOPs and scaling laws
    Mutant("params_tied_head_twice", "4.8", SCALING,
           ((EMBEDDINGS, "        n += 2 * V * C + T * C\n"),),
           ("count_parameters_exact",), "tied head was counted again"),
    Mutant("params_no_position_table", "4.8", SCALING,
           ((EMBEDDINGS, "        n += V * C\n"),),
           ("count_parameters_exact",), "position table wpe"),
    Mutant("params_no_biases", "4.8", SCALING,
           ((BLOCK, "    block = 2 * C + 12 * C * C + 2 * C\n    n = L * block + 2 * C\n"),),
           ("count_parameters_exact",), "the biases are missing"),
    Mutant("params_no_layernorms", "4.8", SCALING,
           ((BLOCK, "    block = 12 * C * C + 9 * C\n    n = L * block\n"),),
           ("count_parameters_exact",), "LayerNorm weights and biases are missing"),
    Mutant("params_approximation", "4.8", SCALING,
           ((BLOCK, "    block = 12 * C * C\n    n = L * block\n"),),
           ("count_parameters_exact",), "an approximation"),
    Mutant("flops_forward_only", "4.8", SCALING,
           ((TRAIN, "    return forward\n"),),
           ("flops_per_token_kaplan",), "forward only"),
    Mutant("flops_2n", "4.8", SCALING,
           ((TRAIN, "    return forward + 4 * L * int(seq_len) * C\n"),),
           ("flops_per_token_kaplan",), "2N is the forward"),
    Mutant("flops_no_attention", "4.8", SCALING,
           ((FORWARD, "    forward = 2 * N\n"),),
           ("flops_per_token_kaplan",), "attention term 6 n_layer seq_len n_embd"),
    Mutant("flops_full_attention_matrix", "4.8", SCALING,
           ((FORWARD, "    forward = 2 * N + 4 * L * int(seq_len) * C\n"),),
           ("flops_per_token_kaplan",), "half of the T x T score matrix"),
    Mutant("flops_with_embeddings", "4.8", SCALING,
           ((NON_EMBEDDING, "    N = count_parameters(config)\n"),),
           ("flops_per_token_kaplan",), "non-embedding count"),
    Mutant("chinchilla_d_equals_n", "4.8", SCALING,
           ((CHINCHILLA, "    n_params = math.sqrt(compute / 6)\n"
                         "    return n_params, n_params\n"),),
           ("chinchilla_optimal_split",), "D = N"),
    Mutant("chinchilla_swapped", "4.8", SCALING,
           ((CHINCHILLA, "    n_params = math.sqrt(compute / (6 * tokens_per_param))\n"
                         "    return tokens_per_param * n_params, n_params\n"),),
           ("chinchilla_optimal_split",), "swapped"),
    Mutant("chinchilla_no_sqrt", "4.8", SCALING,
           ((CHINCHILLA, "    n_params = compute / (6 * tokens_per_param)\n"
                         "    return n_params, tokens_per_param * n_params\n"),),
           ("chinchilla_optimal_split",), "N is a square root"),
    Mutant("fit_in_linear_space", "4.8", SCALING,
           ((LOGS, "    lx, ly = x, y\n"),),
           ("fit_power_law_in_log_space",), "in log space"),
    Mutant("fit_returns_log_a", "4.8", SCALING,
           ((FIT, "    return float(log_a), float(b)\n"),),
           ("fit_power_law_in_log_space",), "that a is log(a)"),
    Mutant("fit_swapped", "4.8", SCALING,
           ((FIT, "    return float(b), float(np.exp(log_a))\n"),),
           ("fit_power_law_in_log_space",), "swapped"),
    Mutant("fit_log_base_mixed", "4.8", SCALING,
           ((FIT, "    return float(10 ** log_a), float(b)\n"),),
           ("fit_power_law_in_log_space",), "raised to 10**"),
]

GAPS: dict[str, str] = {}

DIAGNOSED = [
    # A wrong scale is named as such, not blamed on the head order.
    ("gqa_unscaled", "gqa_matches_attention_per_group", "1 / sqrt(D)", "np.tile"),
    # The forward-only count is not mistaken for a missing attention term.
    ("flops_forward_only", "flops_per_token_kaplan", "3 times the forward", "is missing"),
]
DIAGNOSIS_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, EXERCISES, MUTANTS, GAPS, DIAGNOSED, DIAGNOSIS_GAPS))
