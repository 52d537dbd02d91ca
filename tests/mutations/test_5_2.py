"""Mutation tests of 5.2 (LoRA: low-rank adaptation): every check of the exercise fails on a
plausible student bug, and its message names the bug.  The harness and its conventions:
`tests/mutation.py`.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader.course import MODERN

PACKAGE = MODERN.package  # mutants edit files of reference/modern/
LORA = "lora.py"

BOUND = ("    bound = 1.0 / np.sqrt(in_features)  # kaiming_uniform_(a=sqrt(5)): sqrt(6 / (1 + 5)) "
         "/ sqrt(in)\n")
DRAW_A = "    A = rng.uniform(-bound, bound, size=(in_features, r)).astype(dtype)\n"
ZERO_B = "    B = np.zeros((r, out_features), dtype=dtype)  # zero update at step 0\n"
SCALE = "    scale = float(alpha) / A.shape[1]  # a Python float: keeps float32 inputs float32\n"
FROZEN = "    frozen, _ = linear(x, W, b)  # (..., out): the pretrained layer, untouched\n"
OUT = "    out = frozen + scale * update\n"
BWD_DH = ("    dh, dB, _ = linear_backward(cache[\"scale\"] * dout, cache[\"cache_B\"])"
          "  # dh (..., r)\n")
BWD_RETURN = "    return dx + dx_lora, dA, dB\n"
MERGE_SCALE = "    scale = float(alpha) / A.shape[1]\n"
MERGE = "    return W + scale * (A @ B)  # a new array: W is frozen and may be shared\n"

# Code appended to lora.py: each wraps or replaces one function.
FORWARD_MERGED = """
_lora_linear = lora_linear

def lora_linear(x, W, A, B, alpha, b=None):
    _, cache = _lora_linear(x, W, A, B, alpha, b)
    out, _ = linear(x, W + float(alpha) / A.shape[1] * (A @ B), b)  # the merged weight
    return out, cache
"""

FORWARD_FORMS_AB = """
_lora_linear = lora_linear

def lora_linear(x, W, A, B, alpha, b=None):
    _, cache = _lora_linear(x, W, A, B, alpha, b)
    out, _ = linear(x, W, b)
    return out + x @ (float(alpha) / A.shape[1] * (A @ B)), cache  # an (in, out) A @ B
"""

BACKWARD_WITH_DW = """
_lora_linear_backward = lora_linear_backward

def lora_linear_backward(dout, cache):
    dx, dA, dB = _lora_linear_backward(dout, cache)
    x, W = cache["cache_A"]["x"], cache["W"]
    dW = x.reshape(-1, W.shape[0]).T @ dout.reshape(-1, W.shape[1])
    return dx, dW, dA, dB
"""

MERGE_UNCHECKED = """
def merge_lora(W, A, B, alpha):
    return W + float(alpha) / A.shape[1] * (A @ B)
"""

MUTANTS = [
    # the forward: its scale, bias, update and dtype
    Mutant("forward_scale_alpha", "5.2", LORA, ((SCALE, "    scale = float(alpha)\n"),),
           ("lora_linear_values",), "c = alpha, not alpha / r",
           diagnosis="the update is scaled by alpha, not alpha / r"),
    Mutant("forward_scale_twice", "5.2", LORA,
           ((OUT, "    out = frozen + scale * scale * update\n"),),
           ("lora_linear_values",), "applied twice",
           diagnosis="the scale alpha / r is applied twice"),
    Mutant("forward_rslora_scale", "5.2", LORA,
           ((SCALE, "    scale = float(alpha) / np.sqrt(A.shape[1])\n"),),
           ("lora_linear_values",), "rsLoRA",
           diagnosis="the update is scaled by alpha / sqrt(r)"),
    Mutant("forward_unscaled", "5.2", LORA, ((OUT, "    out = frozen + update\n"),),
           ("lora_linear_values",), "alpha / r is missing",
           diagnosis="the scale alpha / r is missing"),
    Mutant("forward_without_bias", "5.2", LORA, ((FROZEN, "    frozen, _ = linear(x, W)\n"),),
           ("lora_linear_values",), "the frozen bias b is missing",
           diagnosis="the bias b is not added"),
    Mutant("forward_without_update", "5.2", LORA, ((OUT, "    out = frozen\n"),),
           ("lora_linear_values",), "the low-rank update", diagnosis="the update is missing"),
    Mutant("forward_float64_scale", "5.2", LORA,
           ((SCALE, "    scale = np.float64(alpha) / A.shape[1]\n"),),
           ("lora_linear_values",), "float32 in, float32 out"),
    Mutant("forward_merges_the_weight", "5.2", LORA, (), ("lora_linear_keeps_the_update_apart",),
           "rounded away", diagnosis="the forward formed the merged weight",
           append=FORWARD_MERGED),
    Mutant("forward_forms_A_B", "5.2", LORA, (), ("lora_linear_keeps_the_update_apart",),
           "rounded away", append=FORWARD_FORMS_AB),
    # the init
    Mutant("init_B_random", "5.2", LORA,
           ((ZERO_B, "    B = rng.uniform(-bound, bound, size=(r, out_features))"
                     ".astype(dtype)\n"),),
           ("lora_init_matches_peft",), "B starts at zero",
           diagnosis="B is not initialised to zero"),
    Mutant("init_he_bound", "5.2", LORA,
           ((BOUND, "    bound = np.sqrt(6 / in_features)\n"),),
           ("lora_init_matches_peft",), "kaiming_uniform_ with a = 0",
           diagnosis="the bound of A is sqrt(6 / in)"),
    Mutant("init_fan_in_r", "5.2", LORA, ((BOUND, "    bound = 1.0 / np.sqrt(r)\n"),),
           ("lora_init_matches_peft",), "the fan-in is in",
           diagnosis="the bound of A is 1 / sqrt(r)"),
    Mutant("init_normal", "5.2", LORA,
           ((DRAW_A, "    A = (bound * rng.standard_normal((in_features, r))).astype(dtype)\n"),),
           ("lora_init_matches_peft",), "looks normal",
           diagnosis="A is drawn from a normal distribution"),
    Mutant("init_global_rng", "5.2", LORA,
           ((DRAW_A, "    A = np.random.uniform(-bound, bound, size=(in_features, r))"
                     ".astype(dtype)\n"),),
           ("lora_init_matches_peft",), "the only source of randomness",
           diagnosis="A is not drawn from rng"),
    Mutant("init_dtype_ignored", "5.2", LORA,
           ((DRAW_A, "    A = rng.uniform(-bound, bound, size=(in_features, r))\n"),),
           ("lora_init_matches_peft",), "float32 in, float32 out"),
    # the backward
    Mutant("backward_returns_dW", "5.2", LORA, (), ("lora_linear_backward_gradients",),
           "W and b are frozen", append=BACKWARD_WITH_DW),
    Mutant("backward_dB_dA_order", "5.2", LORA,
           ((BWD_RETURN, "    return dx + dx_lora, dB, dA\n"),),
           ("lora_linear_backward_gradients",), "in the order of the forward's inputs",
           diagnosis="the gradients came back as (dx, dB, dA)"),
    Mutant("backward_dA_transposed", "5.2", LORA,
           ((BWD_RETURN, "    return dx + dx_lora, dA.T, dB\n"),),
           ("lora_linear_backward_gradients",), "the transpose of A's",
           diagnosis="dA is transposed"),
    Mutant("backward_unscaled", "5.2", LORA,
           ((BWD_DH, "    dh, dB, _ = linear_backward(dout, cache[\"cache_B\"])\n"),),
           ("lora_linear_backward_gradients",), "missing from dx's update path",
           diagnosis="the scale alpha / r is missing"),
    Mutant("backward_dB_scaled_twice", "5.2", LORA,
           ((BWD_RETURN, "    return dx + dx_lora, dA, dB * cache[\"scale\"]\n"),),
           ("lora_linear_backward_gradients",), "applied twice in dB",
           diagnosis="the scale alpha / r is applied twice in dB"),
    Mutant("backward_dx_frozen_only", "5.2", LORA,
           ((BWD_RETURN, "    return dx, dA, dB\n"),),
           ("lora_linear_backward_gradients",), "misses the update's path",
           diagnosis="dx misses the update's path"),
    Mutant("backward_dx_without_frozen", "5.2", LORA,
           ((BWD_RETURN, "    return dx_lora, dA, dB\n"),),
           ("lora_linear_backward_gradients",), "misses the frozen path",
           diagnosis="dx misses the frozen path"),
    Mutant("backward_scales_dout_in_place", "5.2", LORA,
           ((BWD_DH, "    dout *= cache[\"scale\"]\n"
                     "    dh, dB, _ = linear_backward(dout, cache[\"cache_B\"])\n"),),
           ("lora_linear_backward_gradients",), "in place"),
    # merge_lora
    Mutant("merge_in_place", "5.2", LORA,
           ((MERGE, "    W += scale * (A @ B)\n    return W\n"),),
           ("merge_lora_folds_the_update",), "in place"),
    Mutant("merge_unscaled", "5.2", LORA, ((MERGE, "    return W + A @ B\n"),),
           ("merge_lora_folds_the_update",), "scale as the forward does",
           diagnosis="the scale alpha / r is missing"),
    Mutant("merge_scale_alpha", "5.2", LORA, ((MERGE_SCALE, "    scale = float(alpha)\n"),),
           ("merge_lora_folds_the_update",), "c = alpha, not alpha / r",
           diagnosis="the update is scaled by alpha, not alpha / r"),
    Mutant("merge_without_W", "5.2", LORA, ((MERGE, "    return scale * (A @ B)\n"),),
           ("merge_lora_folds_the_update",), "the update (alpha / r) A B alone",
           diagnosis="W is missing from the merged weight"),
    # the documented errors
    Mutant("merge_unchecked", "5.2", LORA, (), ("lora_refuses_bad_input",),
           "alpha = -1: expected ValueError", append=MERGE_UNCHECKED),
]

GAPS: dict[str, str] = {
    "forward_forms_A_B": "x @ (A @ B) gives the values of (x @ A) @ B: only the memory of the "
                         "(in, out) product would show it, which no check measures",
}

# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["5.2"], MUTANTS, gaps=GAPS))
