"""Mutation tests of 3.11 (GPT-2: forward, loss, backward): every check of the exercise
fails on a plausible student bug, and its message names the bug.  The harness and its
conventions: `tests/mutation.py`.
"""

from __future__ import annotations

from dataclasses import replace

from mutation import (
    Mutant,
    standard_tests,
)
from transformer_common import GP

from grader.course import TRANSFORMER

PACKAGE = TRANSFORMER.package  # mutants edit files of reference/transformer/

G_IMPORT = "from ..self_attention.masks import causal_mask\n"
G_INIT = "        self._cache = None  # the last forward's activations\n"
G_TOKPOS = "        x = (tok + pos).reshape(B * T, C)  # (N, C): every linear layer sees 2-D rows\n"
G_LNF = ('        x, ln_f_cache = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], '
         "cfg.layer_norm_epsilon)\n")
G_HEAD = ('        logits, head_cache = linear(x, p["wte.weight"].T)'
          "  # (N, C) @ (C, V): the tied head\n")
G_QKV = ("        q, k, v = (split_heads(qkv[:, :, j * C:(j + 1) * C], H) for j in range(3))"
         "  # (B,H,T,D)\n")
G_MASK = "        mask = causal_mask(T)  # (T, T), True = may attend\n"
G_SDPA = "        heads, attn = attention(q, k, v, mask)  # (B, H, T, D)\n"
G_CPROJ = ('        y, c_proj = linear(merged, p[h + "attn.c_proj.weight"], '
           'p[h + "attn.c_proj.bias"])\n')
G_RES = "        x = x + y  # the residual stream (a new array: the caller's x is left alone)\n"
G_MLP = '        y, mlp = feed_forward(a, self._mlp_params(i), activation="gelu")  # (N, C)\n'
G_LOSS = "        loss, self._loss_cache = cross_entropy(logits, targets, ignore_index=-100)\n"
G_DLOGITS = "        if dlogits is None:\n"
G_WTE = '        grads["wte.weight"] += dW_head.T  # in place: the (V, C) array is new\n'
G_WPE = ('        grads["wpe.weight"] = embedding_backward(dx.sum(axis=0), cache["pos"])'
         "  # (T_max, C)\n")
G_BLN2 = '        da, grads[h + "ln_2.weight"], grads[h + "ln_2.bias"] = layer_norm_backward(\n'
G_BRES = "        dx = dx + da  # a new array: the caller's dx is left alone\n"
G_DQKV = "        for j, dpart in enumerate((dq, dk, dv)):\n"
INLINE_UNSCALED = (  # attention written out, without the 1/sqrt(D)
    "        scores = np.where(mask, q @ np.swapaxes(k, -1, -2), -np.inf)\n"
    "        weights = softmax(scores, axis=-1)\n"
    "        heads = weights @ v\n"
    '        attn = {"q": q, "k": k, "v": v, "weights": weights, "scale": 1.0}\n')

GPT_ALL = ("gpt_forward_values", "gpt_loss_and_backward", "gpt_backward_given_dlogits",
           "gpt_finite_differences")

MUTANTS = [
    Mutant("gpt_untied_head", "3.11", GP,
           ((G_INIT, '        self.params["lm_head.weight"] = self.params["wte.weight"].copy()\n'
                     + G_INIT),
            (G_HEAD, G_HEAD.replace('p["wte.weight"].T', 'p["lm_head.weight"].T'))),
           GPT_ALL, "GPT-2's head is tied to wte.weight"),
    Mutant("gpt_no_position_embedding", "3.11", GP,
           ((G_TOKPOS, "        x = tok.reshape(B * T, C)\n"),),
           GPT_ALL, "the position embedding is missing"),
    Mutant("gpt_no_final_layer_norm", "3.11", GP, ((G_LNF, "        ln_f_cache = None\n"),),
           GPT_ALL, "the final LayerNorm is missing"),
    Mutant("gpt_qkv_columns_swapped", "3.11", GP,
           ((G_QKV, G_QKV.replace("q, k, v =", "k, q, v =")),),
           GPT_ALL, "c_attn's output columns were read as k | q | v"),
    Mutant("gpt_no_attn_c_proj", "3.11", GP, ((G_CPROJ, "        y, c_proj = merged, None\n"),),
           GPT_ALL, "the attention's output projection is missing"),
    Mutant("gpt_c_proj_transposed", "3.11", GP,  # nn.Linear's (out, in) habit on a Conv1D
           ((G_CPROJ, G_CPROJ.replace('"attn.c_proj.weight"]', '"attn.c_proj.weight"].T')),),
           GPT_ALL, "attn.c_proj.weight is used transposed"),
    Mutant("gpt_residual_from_ln", "3.11", GP, ((G_RES, "        x = a + y\n"),),
           GPT_ALL, "the residual adds the normalised input"),
    Mutant("gpt_attention_unscaled", "3.11", GP,
           ((G_IMPORT, G_IMPORT + "from ..self_attention.softmax import softmax\n"),
            (G_SDPA, INLINE_UNSCALED)),
           GPT_ALL, "the attention scores are not scaled"),
    Mutant("gpt_no_causal_mask", "3.11", GP, ((G_SDPA, G_SDPA.replace(", mask)", ")")),),
           GPT_ALL, "the attention is not causal"),
    Mutant("gpt_mask_sees_next_token", "3.11", GP,  # a hand-made mask, off by one
           ((G_MASK, "        mask = np.tril(np.ones((T, T), dtype=bool), k=1)\n"),),
           GPT_ALL, "changing only the last token changed the logits of earlier positions"),
    Mutant("gpt_gelu_exact", "3.11", GP,
           ((G_MLP, G_MLP.replace('activation="gelu"', 'activation="gelu_exact"')),),
           GPT_ALL, "the MLP uses the exact (erf) GELU"),
    Mutant("gpt_loss_counts_ignored", "3.11", GP,  # -100 made a valid id "to avoid an error"
           ((G_LOSS, "        loss, self._loss_cache = cross_entropy(logits, np.where(targets "
                     "== -100, 0, targets))\n"),),
           ("gpt_loss_and_backward", "gpt_finite_differences"),
           "the ignored targets (-100) were counted"),
    Mutant("gpt_loss_shifted_again", "3.11", GP,
           ((G_LOSS, "        loss, self._loss_cache = cross_entropy(logits[:, :-1], "
                     "targets[:, 1:])\n"),),
           ("gpt_loss_and_backward", "gpt_finite_differences"), "the targets were shifted again"),
    Mutant("gpt_backward_ignores_dlogits", "3.11", GP,  # the loss wins whenever there is one
           ((G_DLOGITS, "        if self._loss_cache is not None:\n"),),
           ("gpt_backward_given_dlogits",), "ignored the dlogits it was given",
           diagnosis="backward(dlogits) ignored the dlogits it was given"),
    Mutant("gpt_wte_grad_without_head", "3.11", GP,
           ((G_WTE, ""),),
           ("gpt_loss_and_backward", "gpt_backward_given_dlogits", "gpt_finite_differences"),
           "the tied head's gradient is not added"),
    Mutant("gpt_wpe_grad_averaged", "3.11", GP,
           ((G_WPE, G_WPE.replace("dx.sum(axis=0)", "dx.mean(axis=0)")),),
           ("gpt_loss_and_backward", "gpt_backward_given_dlogits"), "the batch was averaged"),
    Mutant("gpt_bwd_no_mlp_residual", "3.11", GP, ((G_BRES, "        dx = da\n"),),
           ("gpt_loss_and_backward", "gpt_backward_given_dlogits", "gpt_finite_differences"),
           "passes dx on unchanged"),
    Mutant("gpt_bwd_dqkv_order", "3.11", GP,
           ((G_DQKV, G_DQKV.replace("(dq, dk, dv)", "(dk, dq, dv)")),),
           ("gpt_loss_and_backward", "gpt_backward_given_dlogits", "gpt_finite_differences"),
           "[dq | dk | dv] in the forward's column order"),
    Mutant("gpt_bwd_ln_grads_swapped", "3.11", GP,
           ((G_BLN2, G_BLN2.replace('grads[h + "ln_2.weight"], grads[h + "ln_2.bias"]',
                                    'grads[h + "ln_2.bias"], grads[h + "ln_2.weight"]')),),
           ("gpt_loss_and_backward", "gpt_backward_given_dlogits"),
           "d(h.1.ln_2.weight) and d(h.1.ln_2.bias) are swapped"),
]

# layer_norm_epsilon, float32, block_forward's attention, stated errors (appended)
BLOCK_FIXED_EPS = """
_orig_block_forward = GPT.block_forward
def _block_forward(self, x, i, B, T, mask, attention=scaled_dot_product_attention):
    eps, self.config.layer_norm_epsilon = self.config.layer_norm_epsilon, 1e-5
    try:
        return _orig_block_forward(self, x, i, B, T, mask, attention)
    finally:
        self.config.layer_norm_epsilon = eps
GPT.block_forward = _block_forward
"""
FORWARD_FIXED_EPS = """
_orig_forward = GPT.forward
def _forward(self, idx, kv_cache=None):
    eps, self.config.layer_norm_epsilon = self.config.layer_norm_epsilon, 1e-5
    try:
        return _orig_forward(self, idx, kv_cache)
    finally:
        self.config.layer_norm_epsilon = eps
GPT.forward = _forward
"""
MUTANTS += [
    Mutant("gpt_ignores_layer_norm_epsilon", "3.11", GP, (), ("gpt_layer_norm_epsilon",),
           "config.layer_norm_epsilon is not used", append=FORWARD_FIXED_EPS,
           diagnosis="config.layer_norm_epsilon is not used"),
    Mutant("gpt_blocks_ignore_layer_norm_epsilon", "3.11", GP, (), ("gpt_layer_norm_epsilon",),
           "on a reduced model (q = k = 0, MLPs the identity) is wrong",
           append=BLOCK_FIXED_EPS),
    Mutant("gpt_float32_model_float64_logits", "3.11", GP, (), ("gpt_float32",),
           "expected float32",
           append="_orig_forward = GPT.forward\n"
                  "def _forward(self, idx, kv_cache=None):\n"
                  "    return _orig_forward(self, idx, kv_cache).astype(np.float64)\n"
                  "GPT.forward = _forward\n"),
    Mutant("gpt_block_ignores_attention", "3.11", GP, (), ("gpt_block_attention",),
           "returned without calling the attention it was given",
           append="_orig_block_forward = GPT.block_forward\n"
                  "def _block_forward(self, x, i, B, T, mask, attention=None):\n"
                  "    return _orig_block_forward(self, x, i, B, T, mask)\n"
                  "GPT.block_forward = _block_forward\n",
           diagnosis="block_forward ignores its `attention` argument"),
    Mutant("gpt_backward_without_loss_is_zero", "3.11", GP, (), ("gpt_raises",),
           "GPT.backward() after forward (no loss): expected RuntimeError",
           append="_orig_backward = GPT.backward\n"
                  "def _backward(self, dlogits=None):\n"
                  "    if dlogits is None and self._loss_cache is None and self._cache:\n"
                  "        dlogits = np.zeros((self._cache['B'], self._cache['T'], "
                  "self.config.vocab_size))\n"
                  "    return _orig_backward(self, dlogits)\n"
                  "GPT.backward = _backward\n"),
]

# The cause each mutant's messages state (a known bug's output, matched exactly,
# is stated with expect.cause).
DIAGNOSES = {
    "gpt_no_position_embedding": "the position embedding is missing",
    "gpt_no_final_layer_norm": "the final LayerNorm is missing",
    "gpt_qkv_columns_swapped": "c_attn's output columns were read as k | q | v",
    "gpt_no_attn_c_proj": "the attention's output projection is missing",
    "gpt_c_proj_transposed": "attn.c_proj.weight is used transposed",
    "gpt_residual_from_ln": "the residual adds the normalised input",
    "gpt_attention_unscaled": "the attention scores are not scaled",
    "gpt_no_causal_mask": "the attention is not causal",
    "gpt_gelu_exact": "the MLP uses the exact (erf) GELU",
    "gpt_loss_counts_ignored": "the ignored targets (-100) were counted",
    "gpt_loss_shifted_again": "the targets were shifted again",
    "gpt_wte_grad_without_head": "the tied head's gradient is not added",
    "gpt_wpe_grad_averaged": "the batch was averaged",
    "gpt_bwd_ln_grads_swapped": "d(h.1.ln_2.weight) and d(h.1.ln_2.bias) are swapped",
}
MUTANTS = [replace(m, diagnosis=DIAGNOSES.get(m.id, m.diagnosis)) for m in MUTANTS]

GAPS: dict[str, str] = {}

# (mutant, check, phrase the message must contain, phrase it must not contain).
DIAGNOSED = [
    ("gpt_qkv_columns_swapped", "gpt_forward_values", "they are q | k | v", ""),
    ("gpt_wte_grad_without_head", "gpt_loss_and_backward", "+ dlogitsᵀ x", ""),
    ("gpt_bwd_no_mlp_residual", "gpt_loss_and_backward", "d(h.1.attn.c_proj.bias)",
     "d(h.1.ln_2"),
    ("gpt_bwd_dqkv_order", "gpt_loss_and_backward", "d(h.1.attn.c_attn.bias)", ""),
    ("gpt_no_causal_mask", "gpt_forward_values", "causal_mask(T)", ""),
]

DIAGNOSIS_GAPS: dict[str, str] = {}

# (mutant, check, message that would blame code the mutant left correct).
NOT_BLAMED = [
    ("gpt_backward_ignores_dlogits", "gpt_loss_and_backward", "is wrong"),
    ("gpt_wte_grad_without_head", "gpt_backward_given_dlogits", "is wrong"),
    ("gpt_loss_counts_ignored", "gpt_backward_given_dlogits", "is wrong"),
]

BLAME_GAPS: dict[str, str] = {}


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["3.11"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED,
                                diagnosis_gaps=DIAGNOSIS_GAPS, not_blamed=NOT_BLAMED,
                                blame_gaps=BLAME_GAPS))
