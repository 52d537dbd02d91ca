"""Mutation tests of 4.8 (Parameters, FLOPs and scaling laws): every check of the exercise
fails on a plausible student bug, and its message names the bug.  The harness and its
conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from llm_common import SCALING
from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import LLM_FUNDAMENTALS

PACKAGE = LLM_FUNDAMENTALS.package  # mutants edit files of reference/llm/

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

PARAMS_FILL_CONFIG = """
_count_parameters = count_parameters

def count_parameters(config, include_embeddings=True):
    if isinstance(config, dict) and "block_size" not in config:  # HF's name, filled in place
        config["block_size"] = config["n_positions"]
    return _count_parameters(config, include_embeddings)
"""

PARAMS_DEFAULT_FALSE = """
_count_parameters = count_parameters

def count_parameters(config, include_embeddings=False):  # Kaplan's N as the default
    return _count_parameters(config, include_embeddings)
"""

FLOPS_NO_CHECK = """
def flops_per_token(config, seq_len):  # seq_len taken as it comes
    _, _, L, C = _sizes(config, "flops_per_token")
    N = count_parameters(config, include_embeddings=False)
    return int(3 * (2 * N + 2 * L * seq_len * C))
"""

CHINCHILLA_DEFAULT_10 = """
_chinchilla_optimal = chinchilla_optimal

def chinchilla_optimal(compute, tokens_per_param=10):
    return _chinchilla_optimal(compute, tokens_per_param)
"""

MUTANTS = [
    Mutant("params_tied_head_twice", "4.8", SCALING,
           ((EMBEDDINGS, "        n += 2 * V * C + T * C\n"),),
           ("count_parameters_exact",), "tied head was counted again",
           diagnosis="the tied head was counted again"),
    Mutant("params_no_position_table", "4.8", SCALING,
           ((EMBEDDINGS, "        n += V * C\n"),),
           ("count_parameters_exact",), "position table wpe",
           diagnosis="the position table wpe (block_size x C) is missing"),
    Mutant("params_no_biases", "4.8", SCALING,
           ((BLOCK, "    block = 2 * C + 12 * C * C + 2 * C\n    n = L * block + 2 * C\n"),),
           ("count_parameters_exact",), "the biases are missing",
           diagnosis="the biases are missing"),
    Mutant("params_no_layernorms", "4.8", SCALING,
           ((BLOCK, "    block = 12 * C * C + 9 * C\n    n = L * block\n"),),
           ("count_parameters_exact",), "LayerNorm weights and biases are missing",
           diagnosis="the LayerNorm weights and biases are missing"),
    Mutant("params_approximation", "4.8", SCALING,
           ((BLOCK, "    block = 12 * C * C\n    n = L * block\n"),),
           ("count_parameters_exact",), "an approximation",
           diagnosis="the biases and LayerNorms are missing"),
    Mutant("flops_forward_only", "4.8", SCALING,
           ((TRAIN, "    return forward\n"),),
           ("flops_per_token_kaplan",), "forward only", diagnosis="that is the forward only"),
    Mutant("flops_2n", "4.8", SCALING,
           ((TRAIN, "    return forward + 4 * L * int(seq_len) * C\n"),),
           ("flops_per_token_kaplan",), "training is 6N",
           diagnosis="the parameters count 2N"),
    Mutant("flops_no_attention", "4.8", SCALING,
           ((FORWARD, "    forward = 2 * N\n"),),
           ("flops_per_token_kaplan",), "attention term 6 n_layer seq_len n_embd",
           diagnosis="the attention term 6 n_layer seq_len n_embd"),
    Mutant("flops_full_attention_matrix", "4.8", SCALING,
           ((FORWARD, "    forward = 2 * N + 4 * L * int(seq_len) * C\n"),),
           ("flops_per_token_kaplan",), "counts the whole T x T score matrix",
           diagnosis="the attention term counts the whole T x T score matrix"),
    Mutant("flops_with_embeddings", "4.8", SCALING,
           ((NON_EMBEDDING, "    N = count_parameters(config)\n"),),
           ("flops_per_token_kaplan",), "non-embedding count",
           diagnosis="N includes the embeddings"),
    Mutant("chinchilla_d_equals_n", "4.8", SCALING,
           ((CHINCHILLA, "    n_params = math.sqrt(compute / 6)\n"
                         "    return n_params, n_params\n"),),
           ("chinchilla_optimal_split",), "D = N", diagnosis="D = N"),
    Mutant("chinchilla_swapped", "4.8", SCALING,
           ((CHINCHILLA, "    n_params = math.sqrt(compute / (6 * tokens_per_param))\n"
                         "    return tokens_per_param * n_params, n_params\n"),),
           ("chinchilla_optimal_split",), "swapped",
           diagnosis="the pair is swapped"),
    Mutant("chinchilla_no_sqrt", "4.8", SCALING,
           ((CHINCHILLA, "    n_params = compute / (6 * tokens_per_param)\n"
                         "    return n_params, tokens_per_param * n_params\n"),),
           ("chinchilla_optimal_split",), "N is not a square root",
           diagnosis="N is not a square root"),
    Mutant("fit_in_linear_space", "4.8", SCALING,
           ((LOGS, "    lx, ly = x, y\n"),),
           ("fit_power_law_in_log_space",), "in log space"),
    Mutant("fit_returns_log_a", "4.8", SCALING,
           ((FIT, "    return float(log_a), float(b)\n"),),
           ("fit_power_law_in_log_space",), "a is returned as log(a)",
           diagnosis="a is returned as log(a)"),
    Mutant("fit_swapped", "4.8", SCALING,
           ((FIT, "    return float(b), float(np.exp(log_a))\n"),),
           ("fit_power_law_in_log_space",), "swapped",
           diagnosis="a and b are swapped"),
    Mutant("fit_log_base_mixed", "4.8", SCALING,
           ((FIT, "    return float(10 ** log_a), float(b)\n"),),
           ("fit_power_law_in_log_space",), "raised to 10**",
           diagnosis="the intercept of a natural-log fit was raised to 10**"),
    # appended bugs (a config changed in place, a default, stated errors)
    Mutant("params_fills_config_in_place", "4.8", SCALING, (), ("count_parameters_exact",),
           "changed its argument 1 in place", append=PARAMS_FILL_CONFIG),
    Mutant("params_default_without_embeddings", "4.8", SCALING, (), ("count_parameters_exact",),
           "the default counts every parameter",
           diagnosis="the default include_embeddings is False", append=PARAMS_DEFAULT_FALSE),
    Mutant("flops_no_seq_len_check", "4.8", SCALING, (), ("scaling_refuses_bad_input",),
           "seq_len=0): expected ValueError", append=FLOPS_NO_CHECK),
    Mutant("chinchilla_default_ratio_10", "4.8", SCALING, (), ("chinchilla_optimal_split",),
           "N = sqrt(C / (6 * tokens_per_param))", append=CHINCHILLA_DEFAULT_10),
]

GAPS: dict[str, str] = {}

DIAGNOSED = [
    # The forward-only count is not mistaken for a missing attention term.
    ("flops_forward_only", "flops_per_token_kaplan", "3 times the forward", "is missing"),
]

DIAGNOSIS_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["4.8"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS))
