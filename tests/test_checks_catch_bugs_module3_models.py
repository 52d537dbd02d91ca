"""Mutation tests of the Module 3 model checks (3.6 encoder layer, 3.7 decoder layer, 3.11
GPT-2): every check fails on a plausible student bug, and its message names the bug.

The harness of `mutation.py` (shared by every module): each mutant copies `reference/` into
a temporary `submission/`, replaces a line (or a few) of `encoder.py`, `decoder.py` or
`gpt.py` in `reference/transformer/` with a typical mistake, grades only the affected
exercise, and asserts that (a) the exercise loses points, (b) the named checks fail (or
error, when the bug raises), and (c) the first named check's message contains the phrase
that tells the student what to fix.  The layers' stage-A building blocks (3.1-3.5, 3.8,
3.10) have their mutants in `test_checks_catch_bugs_module3.py`.

`DIAGNOSED` keeps bugs whose message must point at the right fix, and `NOT_BLAMED` bugs in
one function that must not be reported as a bug of another, correct one.  Known grader gaps
are `xfail(strict=True)` with the reason (`GAPS`, `DIAGNOSIS_GAPS`, `BLAME_GAPS`), so fixing
the grader turns them into an XPASS that asks for the mark to go.
"""

from __future__ import annotations

from mutation import (
    Mutant,
    standard_tests,
)

from grader import fixtures
from grader.course import TRANSFORMER, select

PACKAGE = TRANSFORMER.package  # mutants edit files of reference/transformer/
MODELS = ("3.6", "3.7", "3.11")
MODULE_3_MODELS = [ex.id for ex in select(list(MODELS)) if ex.module == TRANSFORMER]

# Lines of the reference solutions, quoted exactly (with enough context to occur once).
# 3.6 encoder.py
E_IF = "    if norm_first:\n"
E_PRE_ATTN_DROP = ('        a, cache["drop_attn"] = dropout(a, dropout_p, rng, train)\n'
                   "        h = x + a\n")
E_PRE_FFN_DROP = ('        f, cache["drop_ffn"] = dropout(f, dropout_p, rng, train)\n'
                  "        out = h + f\n")
E_PRE_LN1 = ('        u, cache["ln_1"] = layer_norm(x, ln_1_p["gamma"], ln_1_p["beta"], eps)'
             "  # (B, S, C)\n")
E_POST_ATTN = ('        a, cache["attn"] = multi_head_attention(x, x, attn_p, n_heads, mask)'
               "  # (B, S, C)\n")
E_POST_ATTN_DROP = ('        a, cache["drop_attn"] = dropout(a, dropout_p, rng, train)\n'
                    '        h, cache["ln_1"]')
E_POST_LN1 = '        h, cache["ln_1"] = layer_norm(x + a, ln_1_p["gamma"], ln_1_p["beta"], eps)\n'
E_POST_FFN = "        f, cache[\"ffn\"] = feed_forward(h, ffn_p, activation)  # (B, S, C)\n"
EB_PRE_DF = '        df = dropout_backward(dout, cache["drop_ffn"])  # out = h + f\n'
EB_PRE_DH = "        dh = dout + dh_ln  # h feeds the residual and ln_2\n"
EB_POST_DX = "        dx = dz_1 + dx_q + dx_kv  # x: residual, queries, keys and values\n"
EB_LN1 = '    grads["ln_1"] = {"gamma": dgamma_1, "beta": dbeta_1}\n'
# 3.7 decoder.py
D_IF = "    if norm_first:\n"
D_CAUSAL = ("    if self_mask is None:\n"
            "        self_mask = causal_mask(x.shape[1])  # (T, T), lower triangle\n")
D_PRE_CROSS = ('        c, cache["cross_attn"] = multi_head_attention(w, memory, cross_p, n_heads,'
               " memory_mask)\n")
D_PRE_H2 = "        h_2 = h_1 + c\n"
D_POST_CROSS = ('        c, cache["cross_attn"] = multi_head_attention(h_1, memory, cross_p, '
                "n_heads,\n")
D_POST_SELF_DROP = ('        a, cache["drop_self"] = dropout(a, dropout_p, rng, train)\n'
                    '        h_1, cache["ln_1"]')
D_POST_CROSS_DROP = ('        c, cache["drop_cross"] = dropout(c, dropout_p, rng, train)\n'
                     '        h_2, cache["ln_2"]')
DB_POST_DH2 = "        dh_2 = dz_3 + dh_2_ffn\n"
DB_POST_DC = '        dc = dropout_backward(dz_2, cache["drop_cross"])\n'
DB_POST_DH1 = "        dh_1 = dz_2 + dh_1_q\n"
DB_LN3 = '    grads["ln_3"] = {"gamma": dgamma_3, "beta": dbeta_3}\n'

# 3.11 gpt.py
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
G_WTE = '        grads["wte.weight"] = embedding_backward(dx, cache["tok"]) + dW_head.T\n'
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

EN, DE, GP = "encoder.py", "decoder.py", "gpt.py"
DEC_T = fixtures.load("transformer")["dec.x"].shape[1]  # the decoder's length, drawn
ENC = ("encoder_values", "encoder_backward_values", "encoder_dropout")
DEC = ("decoder_values", "decoder_backward_values", "decoder_dropout")
GPT_ALL = ("gpt_forward_values", "gpt_loss_and_backward", "gpt_backward_given_dlogits",
           "gpt_finite_differences")

MUTANTS = [
    # 3.6 encoder layer
    Mutant("enc_norm_placement_swapped", "3.6", EN, ((E_IF, "    if not norm_first:\n"),),
           ENC, "your layer computed the pre-norm layer"),
    Mutant("enc_pre_no_ffn_residual", "3.6", EN,
           ((E_PRE_FFN_DROP, E_PRE_FFN_DROP.replace("out = h + f", "out = f")),),
           ENC, "the residual connection around the feed-forward sub-layer is missing"),
    Mutant("enc_post_no_attn_residual", "3.6", EN,
           ((E_POST_LN1, E_POST_LN1.replace("layer_norm(x + a,", "layer_norm(a,")),),
           ENC, "the residual connection around the self-attention sub-layer is missing"),
    Mutant("enc_pre_residual_from_ln", "3.6", EN,  # adds to ln_1(x) / ln_2(h), not x / h
           ((E_PRE_ATTN_DROP, E_PRE_ATTN_DROP.replace("h = x + a", "h = u + a")),
            (E_PRE_FFN_DROP, E_PRE_FFN_DROP.replace("out = h + f", "out = v + f"))),
           ENC, "the residuals add the normalised input"),
    Mutant("enc_post_mask_dropped", "3.6", EN,
           ((E_POST_ATTN, E_POST_ATTN.replace("n_heads, mask)", "n_heads)")),),
           ENC, "the padding mask is not applied"),
    Mutant("enc_activation_not_passed", "3.6", EN,  # feed_forward's default is GELU
           ((E_POST_FFN, E_POST_FFN.replace("ffn_p, activation)", "ffn_p)")),),
           ENC, "ran with GELU: pass `activation` on"),
    Mutant("enc_dropout_draw_order", "3.6", EN,  # masks drawn up front, the FFN's first
           ((E_PRE_ATTN_DROP, '        _, cache["drop_ffn"] = dropout(a, dropout_p, rng, train)\n'
                              + E_PRE_ATTN_DROP),
            (E_PRE_FFN_DROP, '        f = dropout_backward(f, cache["drop_ffn"])\n'
                             "        out = h + f\n")),
           ("encoder_dropout",), "the dropout masks are drawn in the wrong order"),
    Mutant("enc_dropout_same_mask", "3.6", EN,
           ((E_PRE_FFN_DROP, '        f = dropout_backward(f, cache["drop_attn"])\n'
                             '        cache["drop_ffn"] = cache["drop_attn"]\n'
                             "        out = h + f\n"),),
           ("encoder_dropout",), "one dropout mask is reused for several sub-layers"),
    Mutant("enc_dropout_after_residual", "3.6", EN,
           ((E_PRE_ATTN_DROP, '        h, cache["drop_attn"] = dropout(x + a, dropout_p, rng, '
                              "train)\n"),
            (E_PRE_FFN_DROP, '        out, cache["drop_ffn"] = dropout(h + f, dropout_p, rng, '
                             "train)\n")),
           ("encoder_dropout",), "dropout acts after the residual addition"),
    Mutant("enc_dropout_on_sublayer_input", "3.6", EN,  # drops ln_1(x), not attn's output
           ((E_PRE_LN1, E_PRE_LN1 + '        u, cache["drop_attn"] = dropout(u, dropout_p, rng, '
                                    "train)\n"),
            (E_PRE_ATTN_DROP, "        h = x + a\n")),
           ("encoder_dropout",), "acts on each sub-layer's output before its residual add"),
    Mutant("enc_dropout_ignores_train", "3.6", EN,  # dropout's default train=True
           ((E_POST_ATTN_DROP, E_POST_ATTN_DROP.replace("rng, train)", "rng)")),),
           ("encoder_dropout",), "dropout ran in evaluation"),
    Mutant("enc_bwd_post_no_identity_x", "3.6", EN,
           ((EB_POST_DX, "        dx = dx_q + dx_kv\n"),),
           ("encoder_backward_values",),
           "the residual's gradient is missing around the self-attention sub-layer"),
    Mutant("enc_bwd_pre_no_identity_h", "3.6", EN, ((EB_PRE_DH, "        dh = dh_ln\n"),),
           ("encoder_backward_values", "encoder_finite_differences"),
           "the residual's gradient is missing around the feed-forward sub-layer"),
    Mutant("enc_bwd_post_no_dx_kv", "3.6", EN, ((EB_POST_DX, "        dx = dz_1 + dx_q\n"),),
           ("encoder_backward_values",), "its gradient adds dx_q and dx_kv"),
    Mutant("enc_bwd_ln_grads_swapped", "3.6", EN,
           ((EB_LN1, '    grads["ln_1"] = {"gamma": dbeta_1, "beta": dgamma_1}\n'),),
           ("encoder_backward_values", "encoder_finite_differences"),
           "d(ln_1.gamma) and d(ln_1.beta) are swapped"),
    Mutant("enc_bwd_skips_ffn_dropout", "3.6", EN, ((EB_PRE_DF, "        df = dout\n"),),
           ("encoder_dropout",), "skips the feed-forward sub-layer's dropout"),
    # 3.7 decoder layer
    Mutant("dec_norm_placement_swapped", "3.7", DE, ((D_IF, "    if not norm_first:\n"),),
           DEC, "your layer computed the pre-norm layer"),
    Mutant("dec_no_causal_mask_by_default", "3.7", DE, ((D_CAUSAL, ""),),
           ("decoder_values", "decoder_causality", *DEC[1:]), "the self-attention is not causal"),
    Mutant("dec_self_mask_ignored", "3.7", DE,
           ((D_CAUSAL, "    self_mask = causal_mask(x.shape[1])\n"),),
           ("decoder_values",), "the self_mask you were given is ignored"),
    Mutant("dec_memory_mask_ignored", "3.7", DE,
           ((D_POST_CROSS + "                                                      memory_mask)",
             D_POST_CROSS + "                                                      None)"),),
           DEC, "memory_mask is ignored"),
    Mutant("dec_pre_memory_normalised", "3.7", DE,
           ((D_PRE_CROSS, '        m, _ = layer_norm(memory, ln[1]["gamma"], ln[1]["beta"], eps)\n'
                          + D_PRE_CROSS.replace("(w, memory,", "(w, m,")),),
           DEC, "the memory went through ln_2"),
    Mutant("dec_cross_kv_from_x", "3.7", DE,
           ((D_POST_CROSS, D_POST_CROSS.replace("(h_1, memory,", "(h_1, x,")),),
           DEC, "keys and values from x: take them from memory"),
    Mutant("dec_cross_queries_from_memory", "3.7", DE,
           ((D_POST_CROSS, D_POST_CROSS.replace("(h_1, memory,", "(memory, h_1,")),),
           DEC, "takes its queries from the decoder stream"),
    Mutant("dec_pre_no_cross_residual", "3.7", DE, ((D_PRE_H2, "        h_2 = c\n"),),
           DEC, "the residual connection around the cross-attention sub-layer is missing"),
    Mutant("dec_dropout_ignores_train", "3.7", DE,
           ((D_POST_SELF_DROP, D_POST_SELF_DROP.replace("rng, train)", "rng)")),),
           ("decoder_dropout",), "dropout ran in evaluation"),
    Mutant("dec_dropout_draw_order", "3.7", DE,  # the cross-attention's mask drawn first
           ((D_POST_SELF_DROP, '        _, cache["drop_cross"] = dropout(a, dropout_p, rng, '
                               "train)\n" + D_POST_SELF_DROP),
            (D_POST_CROSS_DROP, '        c = dropout_backward(c, cache["drop_cross"])\n'
                                '        h_2, cache["ln_2"]')),
           ("decoder_dropout",), "the dropout masks are drawn in the wrong order"),
    Mutant("dec_bwd_post_no_identity_h1", "3.7", DE, ((DB_POST_DH1, "        dh_1 = dh_1_q\n"),),
           ("decoder_backward_values",),
           "the residual's gradient is missing around the cross-attention sub-layer"),
    Mutant("dec_bwd_dmemory_misses_ffn_branch", "3.7", DE,
           ((DB_POST_DH2, "        dh_2 = dz_3\n"),),
           ("decoder_backward_values",), "dmemory included"),
    Mutant("dec_bwd_ln_grads_swapped", "3.7", DE,
           ((DB_LN3, '    grads["ln_3"] = {"gamma": dbeta_3, "beta": dgamma_3}\n'),),
           ("decoder_backward_values",), "d(ln_3.gamma) and d(ln_3.beta) are swapped"),
    Mutant("dec_bwd_skips_cross_dropout", "3.7", DE, ((DB_POST_DC, "        dc = dz_2\n"),),
           ("decoder_dropout",), "skips the cross-attention sub-layer's dropout"),
    # 3.11 GPT-2
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
           ("gpt_backward_given_dlogits",), "it ignored the dlogits it was given"),
    Mutant("gpt_wte_grad_without_head", "3.11", GP,
           ((G_WTE, G_WTE.replace(" + dW_head.T", "")),),
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

GAPS: dict[str, str] = {}  # plausible bugs no check catches; none now

# (mutant, check, phrase the message must contain, phrase it must not contain).
DIAGNOSED = [
    ("enc_norm_placement_swapped", "encoder_values", "norm_first=False is post-norm", ""),
    ("enc_pre_no_ffn_residual", "encoder_values", "3.6 encoder_layer(norm_first=True)",
     "self-attention sub-layer"),
    ("dec_cross_kv_from_x", "decoder_values", "(B, H, T, S)", ""),
    ("dec_cross_queries_from_memory", "decoder_values", f"T = {DEC_T}",
     "keys and values from x:"),
    ("dec_bwd_dmemory_misses_ffn_branch", "decoder_backward_values",
     "the feed-forward sub-layer's gradient does not reach h_2", ""),
    ("dec_bwd_skips_cross_dropout", "decoder_dropout", "backward: dmemory", ""),
    ("gpt_qkv_columns_swapped", "gpt_forward_values", "they are q | k | v", ""),
    ("gpt_wte_grad_without_head", "gpt_loss_and_backward", "+ dlogitsᵀ x", ""),
    ("gpt_bwd_no_mlp_residual", "gpt_loss_and_backward", "d(h.1.attn.c_proj.bias)",
     "d(h.1.ln_2"),
    ("gpt_bwd_dqkv_order", "gpt_loss_and_backward", "d(h.1.attn.c_attn.bias)", ""),
    ("gpt_no_causal_mask", "gpt_forward_values", "causal_mask(T)", ""),
]
DIAGNOSIS_GAPS: dict[str, str] = {}  # messages that point at the wrong fix; none now

# (mutant, check, message that would blame code the mutant left correct).
NOT_BLAMED = [
    ("enc_dropout_ignores_train", "encoder_values", "is wrong"),
    ("enc_bwd_skips_ffn_dropout", "encoder_backward_values", "is wrong"),
    ("dec_bwd_skips_cross_dropout", "decoder_backward_values", "is wrong"),
    ("enc_bwd_pre_no_identity_h", "encoder_values", "is wrong"),
    ("enc_bwd_post_no_identity_x", "encoder_dropout", "train=True) backward"),
    ("dec_bwd_post_no_identity_h1", "decoder_dropout", "train=True) backward"),
    ("enc_pre_no_ffn_residual", "encoder_dropout", "train=True) is wrong"),
    ("dec_pre_memory_normalised", "decoder_dropout", "train=True) is wrong"),
    ("gpt_backward_ignores_dlogits", "gpt_loss_and_backward", "is wrong"),
    ("gpt_wte_grad_without_head", "gpt_backward_given_dlogits", "is wrong"),
    ("gpt_loss_counts_ignored", "gpt_backward_given_dlogits", "is wrong"),
]
BLAME_GAPS: dict[str, str] = {}  # correct code blamed for another bug; none now


def test_models_are_graded():
    """The model ids still name exercises of Module 3 (a renumbering must update them)."""
    assert MODULE_3_MODELS == list(MODELS)


# the standard tests (tests/mutation.py): unmutated copy passes, every check has a mutant, ...
globals().update(standard_tests(PACKAGE, MODULE_3_MODELS, MUTANTS, GAPS, DIAGNOSED,
                                 DIAGNOSIS_GAPS, NOT_BLAMED, BLAME_GAPS))
