"""Mutation tests of 5.1 (the Llama block and model): every check of the exercise fails on a
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
LLAMA = "llama.py"

ROPE_Q = ("    q = apply_rope(split_heads(q, n_heads), cos, sin)"
          "  # (B, H, T, D), turned by position\n")
ROPE_K = "    k = apply_rope(split_heads(k, n_kv_heads), cos, sin)  # (B, H_kv, T, D)\n"
UPDATE = "        k, v = kv_cache.update(layer, k, v)  # (B, H_kv, L+T, D)\n"
GQA = ("    heads, attn = scaled_dot_product_attention(q, repeat_kv(k, n_rep), "
       "repeat_kv(v, n_rep),\n"
       "                                               mask)  # (B, H, T, D)\n")
RESIDUAL = "    h = x + y  # the residual stream (a new array: the caller's x is left alone)\n"
NORM_2 = '    b, norm_2 = rms_norm(h, params["post_attention_layernorm.weight"], eps)\n'
OUT = "    return h + f, cache\n"
SWIGLU = ('SWIGLU_NAMES = {"W_gate": "mlp.gate_proj.weight", "W_up": "mlp.up_proj.weight",\n')
D_RESIDUAL = "    dh = dh + dout  # a new array: the caller's dout is left alone\n"
D_GROUP_K = "    dk = dk.reshape(B, H_kv, H // H_kv, T_k, D).sum(axis=2)  # (B, H_kv, T, D)\n"
D_GROUP_V = "    dv = dv.reshape(B, H_kv, H // H_kv, T_k, D).sum(axis=2)\n"
D_ROPE = "    dq, dk = apply_rope_backward(dq, cos, sin), apply_rope_backward(dk, cos, sin)\n"
D_X = "    dx += dh\n"
TABLES = ("        cos, sin = rope_cos_sin(np.arange(start, start + T), cfg.head_dim, "
          "cfg.rope_theta)\n")
MASK = "        mask = causal_mask(T, start + T)  # (T, L+T): query i sees keys j <= L + i\n"
BLOCK_EPS = (" " * 35 + "cfg.num_key_value_heads, cfg.rms_norm_eps, mask, kv_cache,\n")
FINAL_NORM = '        x, norm = rms_norm(x, p["model.norm.weight"], cfg.rms_norm_eps)\n'
ADVANCE = ("            kv_cache.advance(T)"
           "  # once per forward: every block wrote the same T positions\n")
LOSS = "        loss, self._loss_cache = cross_entropy(logits, targets, ignore_index=-100)\n"
DLOGITS = "        if dlogits is None:\n"
TIED = '            grads["model.embed_tokens.weight"] += dhead.T\n'
FROM_HF = ("        params[name] = np.ascontiguousarray(value.T) if _is_projection(name) "
           "else value\n")
TO_HF = "    return {name: np.ascontiguousarray(p.T) if _is_projection(name) else p\n"
MAX_POS = "        if start + idx.shape[1] > cfg.max_position_embeddings:\n"

EPS_OUTSIDE = """
def rms_norm(x, gamma, eps=1e-6):  # written by hand, eps outside the square root
    rrms = 1.0 / (np.sqrt((x * x).mean(axis=-1, keepdims=True)) + eps)
    xhat = x * rrms
    return xhat * gamma, {"xhat": xhat, "rrms": rrms, "gamma": gamma}
"""

DEFAULT_MASK_CAUSAL = """
_llama_block = llama_block

def llama_block(x, params, cos, sin, n_heads, n_kv_heads, eps, mask="causal", kv_cache=None,
                layer=None):
    if isinstance(mask, str):  # "no mask given" taken for a decoder's causal mask
        mask = np.tril(np.ones((x.shape[1], x.shape[1]), dtype=bool))
    return _llama_block(x, params, cos, sin, n_heads, n_kv_heads, eps, mask, kv_cache, layer)
"""

MUTANTS = [
    # the block's forward
    Mutant("kv_heads_tiled", "5.1", LLAMA,
           ((GQA, "    heads, attn = scaled_dot_product_attention(\n"
                  "        q, np.tile(k, (1, n_rep, 1, 1)), np.tile(v, (1, n_rep, 1, 1)), "
                  "mask)\n"),),
           ("llama_block_values", "llama_forward_values"), "repeat each kv head in place",
           diagnosis="the kv heads are tiled"),
    Mutant("rope_interleaved", "5.1", LLAMA,
           ((ROPE_Q, "    q = apply_rope_interleaved(split_heads(q, n_heads), cos, sin)\n"),
            (ROPE_K, "    k = apply_rope_interleaved(split_heads(k, n_kv_heads), cos, sin)\n")),
           ("llama_block_values", "llama_forward_values"), "half-split",
           diagnosis="RoPE rotated adjacent pairs",
           append="from ..positional_encoding.rope_interleaved import apply_rope_interleaved\n"),
    Mutant("no_rope", "5.1", LLAMA,
           ((ROPE_Q, "    q = split_heads(q, n_heads)\n"),
            (ROPE_K, "    k = split_heads(k, n_kv_heads)\n")),
           ("llama_block_values", "llama_forward_values"), "apply_rope(q, cos, sin)",
           diagnosis="the queries and keys are not rotated"),
    Mutant("post_norm", "5.1", LLAMA,
           ((RESIDUAL, '    h = rms_norm(x + y, params["input_layernorm.weight"], eps)[0]\n'),
            (NORM_2, "    b, norm_2 = h, None\n"),
            (OUT, '    return rms_norm(h + f, params["post_attention_layernorm.weight"], '
                  "eps)[0], cache\n")),
           ("llama_block_values", "llama_forward_values"), "Llama is pre-norm",
           diagnosis="the block is post-norm"),
    Mutant("residual_from_norm", "5.1", LLAMA,
           ((RESIDUAL, "    h = a + y\n"), (OUT, "    return b + f, cache\n")),
           ("llama_block_values", "llama_forward_values"), "add the branch to x itself",
           diagnosis="the residuals add the normalised input"),
    Mutant("gate_up_swapped", "5.1", LLAMA,
           ((SWIGLU, 'SWIGLU_NAMES = {"W_gate": "mlp.up_proj.weight", "W_up": '
                     '"mlp.gate_proj.weight",\n'),),
           ("llama_block_values", "llama_forward_values"), "gate_proj is swiglu's W_gate",
           diagnosis="SiLU gates up_proj's output"),
    Mutant("rms_eps_outside_sqrt", "5.1", LLAMA, (),
           ("llama_block_values", "llama_forward_values"), "rms = sqrt(mean(x^2) + eps)",
           diagnosis="eps is added outside the square root", append=EPS_OUTSIDE),
    Mutant("block_mask_ignored", "5.1", LLAMA,
           ((GQA, "    heads, attn = scaled_dot_product_attention(q, repeat_kv(k, n_rep), "
                  "repeat_kv(v, n_rep))\n"),),
           ("llama_block_values", "llama_forward_values"), "pass mask to the attention",
           diagnosis="the attention is not causal"),
    Mutant("block_default_mask_causal", "5.1", LLAMA, (), ("llama_block_values",),
           "mask=None (the default) masks nothing", append=DEFAULT_MASK_CAUSAL),
    Mutant("block_output_float64", "5.1", LLAMA,
           ((OUT, "    return (h + f).astype(np.float64), cache\n"),),
           ("llama_block_values", "llama_float32"), "float32 in, float32 out"),
    # the block with a cache
    Mutant("block_cache_layer_0", "5.1", LLAMA,
           ((UPDATE, "        k, v = kv_cache.update(0, k, v)\n"),),
           ("llama_block_with_kv_cache", "llama_kv_cache_decoding"), "wrote into layer 0"),
    Mutant("block_advances_the_cache", "5.1", LLAMA,
           ((UPDATE, "        k, v = kv_cache.update(layer, k, v)\n"
                     "        kv_cache.advance(k.shape[2] - kv_cache.length)\n"),
            (ADVANCE, "            pass\n")),
           ("llama_block_with_kv_cache",), "advance is the model's"),
    # the block's backward
    Mutant("grad_group_mean", "5.1", LLAMA,
           ((D_GROUP_K, "    dk = dk.reshape(B, H_kv, H // H_kv, T_k, D).mean(axis=2)\n"),
            (D_GROUP_V, "    dv = dv.reshape(B, H_kv, H // H_kv, T_k, D).mean(axis=2)\n")),
           ("llama_block_backward_finite_differences", "llama_loss_and_backward"),
           "sum them", diagnosis="the gradients of a kv head's n_rep copies were averaged"),
    Mutant("grad_group_first", "5.1", LLAMA,
           ((D_GROUP_K, "    dk = dk.reshape(B, H_kv, H // H_kv, T_k, D)[:, :, 0]\n"),
            (D_GROUP_V, "    dv = dv.reshape(B, H_kv, H // H_kv, T_k, D)[:, :, 0]\n")),
           ("llama_block_backward_finite_differences", "llama_loss_and_backward"),
           "all n_rep gradients flow back", diagnosis="only the first query head of each group"),
    Mutant("grad_group_tiled", "5.1", LLAMA,
           ((D_GROUP_K, "    dk = dk.reshape(B, H // H_kv, H_kv, T_k, D).sum(axis=1)\n"),
            (D_GROUP_V, "    dv = dv.reshape(B, H // H_kv, H_kv, T_k, D).sum(axis=1)\n")),
           ("llama_block_backward_finite_differences", "llama_loss_and_backward"),
           "ADJACENT heads", diagnosis="summed in tiled order"),
    Mutant("grad_rope_forward", "5.1", LLAMA,
           ((D_ROPE, "    dq, dk = apply_rope(dq, cos, sin), apply_rope(dk, cos, sin)\n"),),
           ("llama_block_backward_finite_differences", "llama_loss_and_backward"),
           "apply_rope_backward", diagnosis="the gradient was rotated forward"),
    Mutant("grad_residual_lost", "5.1", LLAMA,
           ((D_RESIDUAL, "    dh = dh + 0\n"),),
           ("llama_block_backward_finite_differences", "llama_loss_and_backward"),
           "passes dout on unchanged"),
    Mutant("grad_dx_without_residual", "5.1", LLAMA,
           ((D_X, "    dx = dx + 0\n"),),
           ("llama_block_backward_finite_differences", "llama_loss_and_backward"),
           "dx = dh (the residual)"),
    # the model
    Mutant("model_not_causal", "5.1", LLAMA,
           ((MASK, "        mask = None\n"),),
           ("llama_forward_values",), "causal_mask(T)", diagnosis="the attention is not causal"),
    Mutant("model_no_final_norm", "5.1", LLAMA,
           ((FINAL_NORM, '        norm = rms_norm(x, p["model.norm.weight"], '
                         "cfg.rms_norm_eps)[1]\n"),),
           ("llama_forward_values",), "after the last block",
           diagnosis="the final RMSNorm (model.norm) is missing"),
    Mutant("model_theta_ignored", "5.1", LLAMA,
           ((TABLES, "        cos, sin = rope_cos_sin(np.arange(start, start + T), "
                     "cfg.head_dim)\n"),),
           ("llama_forward_values",), "config.rope_theta",
           diagnosis="config.rope_theta is not used"),
    Mutant("model_eps_ignored", "5.1", LLAMA,
           ((BLOCK_EPS, " " * 35 + "cfg.num_key_value_heads, 1e-6, mask, kv_cache,\n"),
            (FINAL_NORM, '        x, norm = rms_norm(x, p["model.norm.weight"])\n')),
           ("llama_forward_values",), "config.rms_norm_eps",
           diagnosis="config.rms_norm_eps is not used"),
    Mutant("loss_counts_ignored_targets", "5.1", LLAMA,
           ((LOSS, "        loss, self._loss_cache = cross_entropy(logits, np.where(targets == "
                   "-100, 0, targets))\n"),),
           ("llama_loss_and_backward",), "that are not -100"),
    Mutant("tied_head_gradient_missing", "5.1", LLAMA,
           ((TIED, "            pass\n"),),
           ("llama_loss_and_backward",), "add the head's gradient",
           diagnosis="the tied head's gradient is not added"),
    Mutant("backward_ignores_dlogits", "5.1", LLAMA,
           ((DLOGITS, "        if True:\n"),),
           ("llama_loss_and_backward",), "backward(dlogits) back-propagates",
           diagnosis="backward(dlogits) ignored the dlogits it was given"),
    # decoding
    Mutant("decode_positions_restart", "5.1", LLAMA,
           ((TABLES, "        cos, sin = rope_cos_sin(np.arange(T), cfg.head_dim, "
                     "cfg.rope_theta)\n"),),
           ("llama_kv_cache_decoding",), "rope_cos_sin(np.arange(L, L + T)",
           diagnosis="RoPE's positions restarted at 0"),
    Mutant("decode_mask_top_left", "5.1", LLAMA,
           ((MASK, "        mask = np.tril(np.ones((T, start + T), dtype=bool))\n"),),
           ("llama_kv_cache_decoding",), "causal_mask(T, L + T)",
           diagnosis="the causal mask is aligned top-left"),
    Mutant("decode_no_advance", "5.1", LLAMA,
           ((ADVANCE, "            pass\n"),),
           ("llama_kv_cache_decoding",), "call kv_cache.advance(T) once per forward"),
    # checkpoints
    Mutant("from_pretrained_not_transposed", "5.1", LLAMA,
           ((FROM_HF, "        params[name] = value\n"),),
           ("llama_from_pretrained",), "transpose them when loading",
           diagnosis="the projections were not transposed"),
    Mutant("save_pretrained_not_transposed", "5.1", LLAMA,
           ((TO_HF, "    return {name: p\n"),),
           ("llama_from_pretrained",), "HF's (out, in) layout"),
    # the documented errors
    Mutant("no_max_position_check", "5.1", LLAMA,
           ((MAX_POS, "        if False:\n"),),
           ("llama_raises",), "T > max_position_embeddings: expected ValueError"),
]

GAPS: dict[str, str] = {}

DIAGNOSED = [
    # a block that ignores its mask is reported as not causal, not as a kv-head bug
    ("block_mask_ignored", "llama_block_values", "pass mask to the attention", "np.tile"),
]

# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, ["5.1"], MUTANTS, gaps=GAPS, diagnosed=DIAGNOSED))
